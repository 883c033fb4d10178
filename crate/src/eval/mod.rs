//! Offline evaluation on MovieLens-100k (native only): the data is fetched at run time from the
//! PyPI wheel `recbole==1.2.1` and never stored in the repository.

pub mod metrics;
pub mod movielens;
pub mod protocol;
pub mod report;
pub mod server;
