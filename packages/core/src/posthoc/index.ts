/** Post-hoc calibrators fitted on validation logits (temperature scaling, Mix-n-Match) and CCAT target maths. */
export { softmaxRows, meanNll } from './softmax.ts';
export { fitTemperature, applyTemperature, temperatureNll, type TemperatureFitOptions } from './temperature.ts';
export { poolAdjacentViolators, fitIsotonic, applyIsotonic, fitIrm, applyIrm, type IsotonicMap } from './isotonic.ts';
export {
  fitMixNMatch,
  fitEtsWeights,
  applyEts,
  MixNMatchCalibrator,
  type MixNMatchJSON,
  type MixNMatchOptions,
  type EtsWeights,
} from './mix-n-match.ts';
export { ccatLambda, ccatTargets } from './ccat-targets.ts';
