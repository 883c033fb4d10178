// Shared by the fuzz targets: embeddings without the model (fuzzing the ranking and profile
// logic must not spend its time in the encoder), deterministic per text.
use cloister::encoder::Embeddings;
use cloister::EMBEDDING_DIM;

pub fn fake_embeddings(texts: &[String]) -> Embeddings {
    let mut data = Vec::with_capacity(texts.len() * EMBEDDING_DIM);
    for text in texts {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let row: Vec<f32> = (0..EMBEDDING_DIM)
            .map(|i| {
                h = h
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407 + i as u64);
                ((h >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        data.extend(row.iter().map(|x| x / norm));
    }
    Embeddings { data }
}
