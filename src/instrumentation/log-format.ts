/** How a process writes its log: JSON lines for log pipelines, or one short coloured line per event for people. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
