//! The device for a backend the JS package chose: it probes the adapter once (`js/wasm.js`)
//! and decides; this only starts what it was told to.

use burn::tensor::Device;

use crate::encoder::device::cpu_device;
use crate::encoder::Backend;
use crate::error::EncoderError;

#[cfg(feature = "webgpu")]
thread_local! {
    // burn's wgpu runtime initialises once per page; later loads reuse its device.
    static WGPU_DEVICE: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

/// The CPU-only build (no `webgpu` feature) has no WebGPU backend to start.
#[cfg(not(feature = "webgpu"))]
async fn webgpu_device() -> Result<Device, String> {
    Err(
        "this is the CPU-only build of the wasm, which has no WebGPU backend \
         (the package loads the WebGPU build when WebGPU is asked for)"
            .into(),
    )
}

#[cfg(feature = "webgpu")]
async fn webgpu_device() -> Result<Device, String> {
    if let Some(device) = WGPU_DEVICE.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU device init failed: {e}"))?;
    WGPU_DEVICE.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// `"webgpu"` or `"cpu"` to a started device.
pub async fn start(backend: &str) -> Result<(Device, Backend), EncoderError> {
    match backend {
        "cpu" => Ok((cpu_device(), Backend::Cpu)),
        "webgpu" => {
            let device = webgpu_device()
                .await
                .map_err(EncoderError::WebGpuUnavailable)?;
            Ok((device, Backend::WebGpu))
        }
        other => Err(EncoderError::InvalidOption(format!(
            "backend must be 'webgpu' or 'cpu' here (the package resolves 'auto' and 'measure'), got '{other}'"
        ))),
    }
}
