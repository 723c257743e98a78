/**
 * Lifeguard's local health ("awareness", memberlist awareness.go): a saturating score in
 * [0, max − 1]. Failed probes with missing nacks and refutations of our own suspicion raise it;
 * successful probes lower it. The probe interval is multiplied by (score + 1), so a node that is
 * itself slow probes less often and accuses fewer healthy peers.
 */
export class Awareness {
  private score = 0;
  private readonly max: number;
  private readonly enabled: boolean;

  constructor(maxMultiplier: number, enabled = true) {
    this.max = Math.max(1, Math.floor(maxMultiplier));
    this.enabled = enabled;
  }

  applyDelta(delta: number): void {
    if (!this.enabled) return;
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  getHealthScore(): number {
    return this.score;
  }

  scaleTimeout(ms: number): number {
    return ms * (this.score + 1);
  }
}
