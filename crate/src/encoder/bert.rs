//! The BERT stack of MiniLM: embeddings (written here), burn's post-LayerNorm transformer
//! encoder, then mean pooling over real tokens and L2 normalisation.
//!
//! On the CPU the same layers can run their linear projections as integer products
//! ([`Int8Layers`]); attention, LayerNorm and GELU stay burn ops either way.

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::transformer::TransformerEncoderLayer;
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::config::{MiniLmConfig, LAYER_NORM_EPS};
use super::int8_gemm::Int8Linear;
use super::record::{Int8Record, TransposedLinear};
use crate::error::EncoderError;

#[derive(Module, Debug)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub encoder: TransformerEncoder,
}

impl BertModel {
    /// An uninitialised-weights model of the given shape; weights come from `load`.
    pub fn new(config: &MiniLmConfig, device: &Device) -> Self {
        let embeddings = Self::new_embeddings(config, device);
        let encoder = TransformerEncoderConfig::new(
            config.hidden,
            config.intermediate,
            config.heads,
            config.layers,
        )
        .with_dropout(0.0)
        .with_norm_first(false)
        .with_activation(ActivationConfig::Gelu)
        .with_layer_norm_eps(LAYER_NORM_EPS)
        .init(device);
        Self {
            embeddings,
            encoder,
        }
    }

    pub fn new_embeddings(config: &MiniLmConfig, device: &Device) -> BertEmbeddings {
        BertEmbeddings {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, config.hidden).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_positions, config.hidden)
                .init(device),
            token_type_embeddings: EmbeddingConfig::new(config.type_vocab, config.hidden)
                .init(device),
            layer_norm: LayerNormConfig::new(config.hidden)
                .with_epsilon(LAYER_NORM_EPS)
                .init(device),
        }
    }

    /// Token ids `[batch, seq]` and padding mask (true = padding) to sentence embeddings
    /// `[batch, hidden]`, unit length.
    pub fn embed(&self, input_ids: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
        let x = self.embed_tokens(input_ids);
        let hidden = self
            .encoder
            .forward(TransformerEncoderInput::new(x).mask_pad(padding.clone()));
        mean_pool_normalized(hidden, padding)
    }

    /// As [`BertModel::embed`], with the linear projections (and on WebGPU the attention) run
    /// as `projections` says.
    pub fn embed_with(
        &self,
        projections: &Projections,
        input_ids: Tensor<2, Int>,
        padding: Tensor<2, Bool>,
    ) -> Result<Tensor<2>, EncoderError> {
        type Project<'a> =
            &'a dyn Fn(usize, Projection, Tensor<3>) -> Result<Tensor<3>, EncoderError>;
        type Attend<'a> = &'a dyn Fn(&TransformerEncoderLayer, Tensor<3>) -> Tensor<3>;
        let run = |project: Project, attend: Attend| {
            let mut x = self.embed_tokens(input_ids.clone());
            for (i, layer) in self.encoder.layers.iter().enumerate() {
                x = layer_forward(layer, x, &|p, x| project(i, p, x), &|qkv| {
                    attend(layer, qkv)
                })?;
            }
            Ok(mean_pool_normalized(x, padding.clone()))
        };
        let burn_attend = |layer: &TransformerEncoderLayer, qkv| attention(layer, qkv, &padding);
        match projections {
            Projections::Burn => Ok(self.embed(input_ids, padding)),
            Projections::Int8(int8) => run(
                &|i, p, x| {
                    let device = x.device();
                    project_int8(int8.layers[i].get(p), x, &device)
                },
                &burn_attend,
            ),
            #[cfg(feature = "webgpu")]
            Projections::WebGpu(gpu) => {
                // Added to every score against a padding key: its softmax weight becomes 0.
                let mask = padding.clone().float().mul_scalar(-1.0e9);
                run(&|i, p, x| Ok(gpu.forward(i, p, x)), &|layer, qkv| {
                    gpu.attention(layer, qkv, &mask, &padding)
                })
            }
        }
    }

    /// Word + position + token-type embeddings, then LayerNorm: `[batch, seq, hidden]`.
    fn embed_tokens(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, seq] = input_ids.dims();
        let words = self.embeddings.word_embeddings.forward(input_ids);
        // Positions are 0..seq and token types all 0: slice the tables instead of a gather.
        let positions = self
            .embeddings
            .position_embeddings
            .weight
            .val()
            .slice([0..seq])
            .unsqueeze_dim::<3>(0);
        let token_type = self
            .embeddings
            .token_type_embeddings
            .weight
            .val()
            .slice([0..1])
            .unsqueeze_dim::<3>(0);
        self.embeddings
            .layer_norm
            .forward(words + positions + token_type)
    }
}

/// The linear projections of every encoder layer as int8 integer products (see
/// `int8_gemm`): query, key and value fused into one 3x-wide product, then the attention
/// output and the two feed-forward projections.
#[derive(Debug, Clone)]
pub struct Int8Layers {
    layers: Vec<LayerLinears<Int8Linear>>,
}

/// The four linear projections of one encoder layer, in the form one kernel runs them.
#[derive(Debug, Clone)]
struct LayerLinears<T> {
    qkv: T,
    output: T,
    inner: T,
    outer: T,
}

impl<T> LayerLinears<T> {
    fn get(&self, projection: Projection) -> &T {
        match projection {
            Projection::Qkv => &self.qkv,
            Projection::Output => &self.output,
            Projection::Inner => &self.inner,
            Projection::Outer => &self.outer,
        }
    }
}

impl Int8Layers {
    /// Packs the (dequantized) linear weights of the int8 file's record. Errors if a shape does
    /// not fit the kernel, which MiniLM's fixed shapes always do.
    pub fn from_record(record: &Int8Record) -> Result<Self, EncoderError> {
        let layers = record
            .layers
            .iter()
            .map(|layer| {
                Ok(LayerLinears {
                    qkv: pack(&[&layer.query, &layer.key, &layer.value])?,
                    output: pack(&[&layer.attention_output])?,
                    inner: pack(&[&layer.intermediate])?,
                    outer: pack(&[&layer.output])?,
                })
            })
            .collect::<Result<_, EncoderError>>()?;
        Ok(Self { layers })
    }
}

/// How the encoder layers run their linear projections.
#[derive(Debug, Clone)]
pub enum Projections {
    /// burn's `Linear` modules: f32 matmul on the model's device.
    Burn,
    /// Int8 integer products on the CPU (`int8_gemm`).
    Int8(Int8Layers),
    /// The small-row kernel of `gpu_kernels` on WebGPU.
    #[cfg(feature = "webgpu")]
    WebGpu(GpuLayers),
}

impl Projections {
    /// What runs the projections: `f32-matmul` (burn), `int8` or `webgpu-linear`.
    pub fn kernel(&self) -> &'static str {
        match self {
            Self::Burn => "f32-matmul",
            Self::Int8(_) => "int8",
            #[cfg(feature = "webgpu")]
            Self::WebGpu(_) => "webgpu-linear",
        }
    }

    /// How many projections or attentions the WebGPU kernels handed to burn's ops because the
    /// input did not fit (always 0 for the model's own shapes; tests check it stays so).
    pub fn fallbacks(&self) -> usize {
        match self {
            #[cfg(feature = "webgpu")]
            Self::WebGpu(gpu) => gpu.fallbacks.load(std::sync::atomic::Ordering::Relaxed),
            _ => 0,
        }
    }
}

/// The four projections of an encoder layer; query, key and value are one fused product.
#[derive(Debug, Clone, Copy)]
enum Projection {
    Qkv,
    Output,
    Inner,
    Outer,
}

/// burn's post-norm `TransformerEncoderLayer::forward` (dropout 0) with the linear projections
/// done by `project` and the attention over the fused query/key/value projection by `attend`;
/// LayerNorm and GELU are burn ops.
fn layer_forward(
    layer: &TransformerEncoderLayer,
    x: Tensor<3>,
    project: &dyn Fn(Projection, Tensor<3>) -> Result<Tensor<3>, EncoderError>,
    attend: &dyn Fn(Tensor<3>) -> Tensor<3>,
) -> Result<Tensor<3>, EncoderError> {
    let context = attend(project(Projection::Qkv, x.clone())?);
    let attended = project(Projection::Output, context)?;
    let x = layer.norm_1.forward(x + attended);
    let inner = layer
        .pwff
        .activation
        .forward(project(Projection::Inner, x.clone())?);
    let outer = project(Projection::Outer, inner)?;
    Ok(layer.norm_2.forward(x + outer))
}

/// Multi-head self-attention in burn ops, from `qkv [batch, seq, 3 * hidden]` to the context
/// `[batch, seq, hidden]`; padding keys are masked as burn's `MultiHeadAttention` does.
fn attention(
    layer: &TransformerEncoderLayer,
    qkv: Tensor<3>,
    padding: &Tensor<2, Bool>,
) -> Tensor<3> {
    let [batch, seq, width] = qkv.dims();
    let hidden = width / 3;
    let (heads, head_dim) = (layer.mha.n_heads, layer.mha.d_k);
    let split = |i: usize| {
        qkv.clone()
            .slice([0..batch, 0..seq, i * hidden..(i + 1) * hidden])
            .reshape([batch, seq, heads, head_dim])
            .swap_dims(1, 2)
    };
    let (query, key, value) = (split(0), split(1), split(2));
    let scores = query
        .matmul(key.swap_dims(2, 3))
        .div_scalar((head_dim as f32).sqrt())
        .mask_fill(
            padding.clone().reshape([batch, 1, 1, seq]),
            layer.mha.min_float,
        );
    softmax(scores, 3)
        .matmul(value)
        .swap_dims(1, 2)
        .reshape([batch, seq, hidden])
}

/// The linear projections of every encoder layer as f32 weights on the WebGPU device, run by
/// `gpu_kernels`'s kernels together with attention; query, key and value concatenated into one
/// product (a copy: about 10 MB of device memory beside burn's `Linear` weights).
#[cfg(feature = "webgpu")]
#[derive(Debug, Clone)]
pub struct GpuLayers {
    layers: Vec<LayerLinears<GpuLinear>>,
    fallbacks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[cfg(feature = "webgpu")]
#[derive(Debug, Clone)]
struct GpuLinear {
    /// `[inputs, outputs]`, burn's `Linear` layout.
    weight: Tensor<2>,
    bias: Tensor<1>,
}

#[cfg(feature = "webgpu")]
impl GpuLayers {
    /// Takes the weights of `model`'s encoder layers (already on the WebGPU device).
    pub fn from_model(model: &BertModel) -> Result<Self, EncoderError> {
        let linear = |linears: &[&burn::nn::Linear]| -> Result<GpuLinear, EncoderError> {
            let mut weights = Vec::new();
            let mut biases = Vec::new();
            for linear in linears {
                weights.push(linear.weight.val());
                biases.push(linear.bias.as_ref().map(|b| b.val()).ok_or_else(|| {
                    EncoderError::WrongModel("a linear layer without a bias".into())
                })?);
            }
            // One linear shares burn's tensors; only the fused query/key/value is a copy.
            if weights.len() == 1 {
                return Ok(GpuLinear {
                    weight: weights.remove(0),
                    bias: biases.remove(0),
                });
            }
            Ok(GpuLinear {
                weight: Tensor::cat(weights, 1),
                bias: Tensor::cat(biases, 0),
            })
        };
        let layers = model
            .encoder
            .layers
            .iter()
            .map(|layer| {
                Ok(LayerLinears {
                    qkv: linear(&[&layer.mha.query, &layer.mha.key, &layer.mha.value])?,
                    output: linear(&[&layer.mha.output])?,
                    inner: linear(&[&layer.pwff.linear_inner])?,
                    outer: linear(&[&layer.pwff.linear_outer])?,
                })
            })
            .collect::<Result<_, EncoderError>>()?;
        Ok(Self {
            layers,
            fallbacks: Default::default(),
        })
    }

    /// `projection` of layer `layer` over the last axis of `x` (`[batch, seq, inputs]`).
    fn forward(&self, layer: usize, projection: Projection, x: Tensor<3>) -> Tensor<3> {
        let linear = self.layers[layer].get(projection);
        let [batch, seq, inputs] = x.dims();
        let outputs = linear.bias.dims()[0];
        let rows = x.reshape([batch * seq, inputs]);
        let y =
            super::gpu_kernels::linear(&rows, &linear.weight, &linear.bias).unwrap_or_else(|| {
                self.fallbacks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rows.matmul(linear.weight.clone()) + linear.bias.clone().unsqueeze::<2>()
            });
        y.reshape([batch, seq, outputs])
    }

    /// Attention by `gpu_kernels::attention`, or burn's ops where it does not apply.
    fn attention(
        &self,
        layer: &TransformerEncoderLayer,
        qkv: Tensor<3>,
        mask: &Tensor<2>,
        padding: &Tensor<2, Bool>,
    ) -> Tensor<3> {
        super::gpu_kernels::attention(&qkv, mask, layer.mha.n_heads).unwrap_or_else(|| {
            self.fallbacks
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            attention(layer, qkv, padding)
        })
    }
}

/// Stacks linears that share an input (their outputs, i.e. the rows of `[outputs][inputs]`
/// weights, one after another) and packs them.
fn pack(linears: &[&TransposedLinear]) -> Result<Int8Linear, EncoderError> {
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    let mut inputs = 0;
    for linear in linears {
        let w = linear.weight.val();
        inputs = w.dims()[1];
        weight.extend(read_f32(w.into_data())?);
        bias.extend(read_f32(linear.bias.val().into_data())?);
    }
    let outputs = bias.len();
    Int8Linear::new(&weight, &bias, inputs, outputs).ok_or_else(|| {
        EncoderError::WrongModel(format!(
            "a linear layer of {inputs} x {outputs} does not fit the int8 kernel"
        ))
    })
}

/// `linear` over the last axis of `x` (`[batch, seq, inputs]`).
fn project_int8(
    linear: &Int8Linear,
    x: Tensor<3>,
    device: &Device,
) -> Result<Tensor<3>, EncoderError> {
    let [batch, seq, _] = x.dims();
    let y = linear.forward(&read_f32(x.into_data())?);
    Ok(Tensor::from_data(
        TensorData::new(y, [batch, seq, linear.outputs()]),
        device,
    ))
}

fn read_f32(data: TensorData) -> Result<Vec<f32>, EncoderError> {
    data.try_into_vec::<f32>()
        .map_err(|e| EncoderError::Backend(format!("unexpected tensor data: {e:?}")))
}

/// Mean over the real (non-padding) tokens, then L2 normalisation, as sentence-transformers does.
pub fn mean_pool_normalized(hidden: Tensor<3>, padding: Tensor<2, Bool>) -> Tensor<2> {
    let keep = padding.bool_not().float().unsqueeze_dim::<3>(2); // [b, s, 1]
    let summed = (hidden * keep.clone()).sum_dim(1); // [b, 1, d]
    let count = keep.sum_dim(1).clamp_min(1e-9); // [b, 1, 1]
    let pooled = (summed / count).squeeze_dim::<2>(1); // [b, d]
    let norm = pooled
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12); // [b, 1]
    pooled / norm
}
