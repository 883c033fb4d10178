// Error classes of the package. The wasm edge throws JS Errors whose `name` is one of these
// and whose `kind` is the core's stable error kind; `fromWasm` turns them into instances.

export class CloisterError extends Error {
  constructor(message, kind = 'unknown') {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
  }
}
/** WebGPU was forced (`backend: 'webgpu'`) but there is no usable adapter. */
export class WebGPUUnavailableError extends CloisterError {}
/** The model bytes do not match the sha256 the manifest pins. */
export class ModelIntegrityError extends CloisterError {}
/** The model or tokenizer file is corrupt, truncated, or another model. */
export class ModelFormatError extends CloisterError {}
/** Bad input: an empty batch, an unknown option, a malformed candidate. */
export class InvalidInputError extends CloisterError {}
/** The compute backend failed (device lost, read-back failed). */
export class BackendError extends CloisterError {}

const CLASSES = { WebGPUUnavailableError, ModelFormatError, InvalidInputError, BackendError,
  TokenizerError: ModelFormatError };

export function fromWasm(error) {
  if (error instanceof CloisterError) return error;
  const Class = CLASSES[error?.name];
  if (!Class) return error instanceof Error ? error : new CloisterError(String(error));
  return new Class(error.message, error.kind);
}
