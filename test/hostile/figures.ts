// What one hostile suite reports: what it tried, how much, what it measured, what did not hold.
export interface Figures {
  readonly suite: string;
  /** One sentence: what was sent or run, and how much. */
  readonly tried: string;
  readonly figures: Readonly<Record<string, string | number>>;
  /** Empty when every invariant held. */
  readonly failures: readonly string[];
}
