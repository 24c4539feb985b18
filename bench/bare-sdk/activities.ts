/**
 * The bare-SDK baseline's one activity, as the Temporal samples write one. Like our `noop` it only says that it
 * started (the benchmark times starts and counts them with it), so the two differ in the job system, not in the work.
 */
export function createBareActivities(onStarted: (id: string) => void) {
  return {
    async bareNoop(id: string): Promise<void> {
      onStarted(id);
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
