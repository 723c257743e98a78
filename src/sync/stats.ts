/** What one session moved, for logs, tests and benchmarks. */
export class SyncStats {
  framesSent = 0;
  framesReceived = 0;
  /** Frame bytes (type byte + body), without the transport's length prefixes. */
  bytesSent = 0;
  bytesReceived = 0;
  turnsSent = 0;
  turnsReceived = 0;
  summariesSent = 0;
  summariesReceived = 0;
  entriesSent = 0;
  /** Entries in ENTRIES frames from the peer, and what became of them. */
  entriesReceived = 0;
  /** Stored during this session (including entries released from the pending pools by them). */
  entriesAccepted = 0;
  entriesDuplicate = 0;
  entriesPending = 0;
  entriesRejected = 0;
  blocksSent = 0;
  blocksReceived = 0;
  blockBytesSent = 0;
  blockBytesReceived = 0;
  /** Asked for but not sent by the peer (it lacks them too). */
  blocksUnavailable = 0;
  /** Sent by the peer without being asked for, or twice: dropped unstored. */
  blocksIgnored = 0;

  /** Turns alternate, so two turns make one round trip (equal roots: HELLO, then HELLO+DONE). */
  get roundTrips(): number {
    return Math.ceil((this.turnsSent + this.turnsReceived) / 2);
  }

  toJSON(): Record<string, number> {
    return { ...(this as unknown as Record<string, number>), roundTrips: this.roundTrips };
  }
}
