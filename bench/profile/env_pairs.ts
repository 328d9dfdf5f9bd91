/** Environment from K=V words, as the profile tools take them (`--env K=V`, a variant's words); the first "=" splits. */
export function envPairs(words: readonly string[]): Record<string, string> {
  return Object.fromEntries(words.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

/** A word that sets a variable (NAME=value), not a flag. */
export const isEnvPair = (word: string): boolean => /^[A-Z_][A-Z0-9_]*=/.test(word);
