/** Saving and loading tensors: the safetensors format, atomic files, nested checkpoint state. */
export { encodeSafetensors, decodeSafetensors, SAFETENSORS_MAX_HEADER_BYTES } from './safetensors.js';
export type { DecodedSafetensors, SafetensorsLoadOptions } from './safetensors.js';
export { saveSafetensors, loadSafetensors } from './file.js';
export { encodeState, decodeState, saveState, loadState, STATE_METADATA_KEY } from './state.js';
