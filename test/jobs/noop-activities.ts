export interface NoopDeps {
  /** Called when the noop activity starts, with its id; the throughput benchmark measures start latency with it. */
  onNoopStarted?: (id: string) => void;
}

export function createNoopActivities({ onNoopStarted }: NoopDeps) {
  return {
    /** Does nothing: what a job costs beyond its work. */
    async noop(id: string): Promise<void> {
      onNoopStarted?.(id);
    },
    /** The same, declared a local activity by the noop job. */
    async noopLocal(id: string): Promise<void> {
      onNoopStarted?.(id);
    },
  };
}
