/** Public surface of the SWIM layer. */
export * from './types.ts';
export { SwimNode } from './protocol.ts';
export type { SwimNodeOptions, SwimDelegate } from './protocol.ts';
export type { SwimStats } from './state.ts';
export { SwimError, isSwimError } from './errors.ts';
export type { SwimErrorCode } from './errors.ts';
export { lanConfig, wanConfig, localConfig, makeConfig, retransmitLimit, suspicionTimeout, pushPullScale } from './config.ts';
export type { SwimConfig, ProfileName } from './config.ts';
export { remainingSuspicionTime } from './suspicion.ts';
