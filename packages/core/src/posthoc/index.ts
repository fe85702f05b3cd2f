/** Post-hoc calibrators fitted on validation logits (temperature scaling, Mix-n-Match) and CCAT target maths. */

export { ccatLambda, ccatTargets } from './ccat-targets.ts';
export { applyIrm, applyIsotonic, fitIrm, fitIsotonic, type IsotonicMap, poolAdjacentViolators } from './isotonic.ts';
export {
  applyEts,
  type EtsWeights,
  fitEtsWeights,
  fitMixNMatch,
  MixNMatchCalibrator,
  type MixNMatchJSON,
  type MixNMatchOptions,
} from './mix-n-match.ts';
export { meanNll, softmaxRows } from './softmax.ts';
export { applyTemperature, fitTemperature, type TemperatureFitOptions, temperatureNll } from './temperature.ts';
