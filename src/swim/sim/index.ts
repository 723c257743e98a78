/** The in-memory SWIM simulator: see simulator.ts for the API. */
export { Simulator, defaultAddress } from './simulator.ts';
export type { SimOptions, NodeCounters, AddNodeOptions } from './simulator.ts';
export { Network } from './network.ts';
export type { LinkOptions } from './network.ts';
export { SeededRandom } from './random.ts';
export { bootstrapCluster } from './bootstrap.ts';
export type { BootstrapOptions } from './bootstrap.ts';
