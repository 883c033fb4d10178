// The Cloister package: the public entry point.
export { Cloister } from './cloister.js';
export { SentenceEncoder, initWasm } from './encoder.js';
export { hasHardwareWebGpu, hasRelaxedSimd, pickWasmBuild } from './wasm.js';
export { forgetBackendChoices } from './measure.js';
export {
  CloisterError, ERROR_CLASSES, WebGPUUnavailableError, ModelIntegrityError, ModelFormatError,
  InvalidInputError, InvalidCandidateError, BackendError, StorageError, UnsupportedBrowserError,
  InterestModelError,
} from './errors.js';
