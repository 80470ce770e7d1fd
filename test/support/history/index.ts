/** The block-device history checker: record, tag, check, report. */
export { checkBlock, checkHistory, type CheckOptions, type CheckResult, type UnknownBlock, type Violation } from './checker.js';
export { decompose, describeState, INITIAL_STATE, keyOf, step, type BlockOp, type RegisterState } from './model.js';
export { HistoryRecorder, type OpRequest } from './recorder.js';
export { formatBlockOp, formatReport, formatViolation } from './report.js';
export { searchBlock, type SearchLimits, type SearchOutcome } from './search.js';
export { formatValue, readTags, TAG_MAGIC, TAG_SIZE, tagBlock, taggedPayload } from './tags.js';
export { BLOCK_SIZE, blocksOf, MalformedHistoryError, validateOperation, type BlockTag, type BlockValue, type History, type OpKind, type Operation } from './types.js';
export { HistoryBuilder } from './builder.js';
export { mutateToStaleRead, prng, simulateHistory, type SimulationOptions } from './simulate.js';
