/**
 * @dl/tensorboard: a SummaryWriter that writes TensorBoard event files (scalars, histograms,
 * images, text), the equivalent of torch.utils.tensorboard, and readEvents to read them back.
 */
export { SummaryWriter, defaultLogDir } from './writer.js';
export type { SummaryWriterOptions, HistogramValues } from './writer.js';
export type { HistogramBins } from './histogram.js';
export { DEFAULT_BIN_EDGES, makeHistogram } from './histogram.js';
export type { ImageFormat, ImagesFormat } from './image.js';
export { readEvents, listEventFiles } from './reader.js';
export { encodeEvent, decodeEvent } from './proto.js';
export type {
  TensorBoardEvent,
  Summary,
  SummaryValue,
  HistogramProto,
  ImageProto,
  TensorProto,
  TensorShapeDim,
  SummaryMetadata,
  PluginData,
  SessionLog,
} from './proto.js';
export { frameRecord, parseRecords } from './record.js';
export { crc32c, maskCrc, maskedCrc32c } from './crc.js';
