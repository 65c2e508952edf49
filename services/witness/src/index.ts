/**
 * `@lineage/witness`: a C2SP tlog-witness that cosigns the hub's checkpoints only when they extend what it
 * cosigned before (docs/specs/witness.md). Used by `lineage witness ...`.
 */
export { startWitnessServer, type WitnessServer, type WitnessServerOptions } from "./http-server.js";
export { checkRootRotations, type RotationCheck } from "./root-rotation.js";
export { type Cosigned, Witness, type WitnessOptions } from "./witness.js";
export {
  isWitnessError,
  WitnessError,
  type WitnessErrorCode,
  type WitnessErrorOptions,
  witnessHttpStatus,
} from "./witness-error.js";
export {
  MAX_TRUSTED_ROOTS,
  type TrustedRoot,
  type WitnessedCheckpoint,
  WitnessState,
} from "./witness-state.js";
