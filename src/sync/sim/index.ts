/** BaseFS nodes on the in-memory simulator: see cluster.ts for the API. */
export { SyncSim, SimNode } from './cluster.ts';
export type { SyncSimOptions, SessionRecord } from './cluster.ts';
export { MemoryBlockStore } from './blocks.ts';
