/** A request among the slowest of its second, as a worker's agent reported it (no imports: the dashboard's page uses it too). */
export interface SlowEntry {
  /** ms since the epoch, when it ended */
  at: number;
  slot: number;
  pid: number;
  method: string;
  path: string;
  status: number;
  ms: number;
}
