/**
 * One JSON object per line, so the CloudWatch log of a wait reads as a progress
 * bar and can be queried with Logs Insights. Written straight to stdout so the
 * line stays a JSON object whatever Lambda log format the function uses.
 */
export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stdout.write(line + '\n');

/** Tests capture the log lines instead of printing them. */
export function setLogSink(newSink: LogSink): LogSink {
  const previous = sink;
  sink = newSink;
  return previous;
}

export function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  sink(JSON.stringify({ level, message, ...fields }));
}
