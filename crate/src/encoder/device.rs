//! Which compute backend runs the encoder. Natively: flex (CPU). In the browser the JS package
//! decides between WebGPU and flex-in-wasm (`js/wasm.js`) and the wasm edge starts that device.

use burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's flex backend: pure Rust, SIMD128 in wasm.
    Cpu,
    /// burn-wgpu on the browser's WebGPU.
    WebGpu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::WebGpu => "webgpu",
        }
    }
}

/// The CPU device (flex).
pub fn cpu_device() -> Device {
    Device::flex()
}
