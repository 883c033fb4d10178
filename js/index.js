// The Cloister package: the public entry point.
export { SentenceEncoder, initWasm } from './encoder.js';
export {
  CloisterError, WebGPUUnavailableError, ModelIntegrityError, ModelFormatError,
  InvalidInputError, BackendError,
} from './errors.js';
