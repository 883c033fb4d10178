//! Embeddings as plain data: their width and a row-major batch. No burn here, so the profile
//! and the ranking (which only read vectors) do not depend on the encoder.

/// Width of every embedding (all-MiniLM-L6-v2's hidden size).
pub const EMBEDDING_DIM: usize = 384;

/// Row-major embeddings, one row of `EMBEDDING_DIM` floats per input text, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub data: Vec<f32>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.data.len() / EMBEDDING_DIM
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(EMBEDDING_DIM)
    }
}
