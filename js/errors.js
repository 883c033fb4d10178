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
/** A candidate list the re-ranker cannot take (empty, duplicate ids, non-finite scores...). */
export class InvalidCandidateError extends InvalidInputError {}
/** Persistent storage failed (quota, corrupt record); the session goes on in memory. */
export class StorageError extends CloisterError {}

const CANDIDATE_KINDS = new Set(['invalid_candidate', 'duplicate_candidate', 'empty_candidates',
  'too_many_candidates']);
const CLASSES = { WebGPUUnavailableError, ModelFormatError, ModelIntegrityError, InvalidInputError,
  BackendError, StorageError, InvalidCandidateError, TokenizerError: ModelFormatError };

/** Turns an error thrown by the wasm (or sent from the worker) into one of the classes above. */
export function fromWasm(error) {
  if (error instanceof CloisterError) return error;
  let Class = CLASSES[error?.name];
  if (Class === InvalidInputError && CANDIDATE_KINDS.has(error.kind)) Class = InvalidCandidateError;
  if (!Class) return error instanceof Error ? error : new CloisterError(String(error?.message ?? error));
  return new Class(error.message, error.kind);
}

/** A plain object that survives postMessage. */
export function toPlain(error) {
  const e = fromWasm(error);
  return { name: e.name, kind: e.kind ?? 'unknown', message: e.message };
}
