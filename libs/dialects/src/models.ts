/**
 * The Copilot model id for the one a client asked: the id itself, then an alias, then what Claude
 * Code's dated Anthropic ids (`claude-haiku-4-5-20251001`) are called on Copilot (`claude-haiku-4.5`).
 */
export function resolveModelId(asked: string, available: string[], aliases: Record<string, string> = {}): string | null {
  if (available.includes(asked)) return asked;
  const alias = Object.hasOwn(aliases, asked) ? aliases[asked] : undefined;
  if (alias !== undefined && available.includes(alias)) return alias;
  return claudeCandidates(asked).find((id) => available.includes(id)) ?? null;
}

function claudeCandidates(asked: string): string[] {
  const id = asked.toLowerCase();
  if (!id.startsWith('claude-')) return [];
  const base = id.replace(/-(?:\d{8}|latest)$/, '');
  return [id, base, base.replace(/-(\d{1,2})-(\d{1,2})(?=-|$)/, '-$1.$2')];
}

/** MODEL_ALIASES: `asked=copilot_id` pairs separated by commas. */
export function parseModelAliases(s: string): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const entry of s.split(',')) {
    if (!entry.trim()) continue;
    const eq = entry.indexOf('=');
    const asked = entry.slice(0, eq).trim();
    const target = entry.slice(eq + 1).trim();
    if (eq === -1 || !asked || !target) throw new Error(`MODEL_ALIASES: "${entry.trim()}" is not of the form asked=copilot_id`);
    aliases[asked] = target;
  }
  return aliases;
}
