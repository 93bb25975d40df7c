// What "To account" means: one of the person's own open accounts by name, or an account id pasted in.

export interface NamedAccount {
  id: string;
  name: string;
  currency: string;
}

export type TargetResult = { ok: true; id: string } | { ok: false; error: string };

/** hexbank's account ids are UUIDs: anything else cannot be an account, so it is refused before sending. */
const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function resolveTarget(input: string, source: NamedAccount, own: NamedAccount[]): TargetResult {
  const text = input.trim();
  if (!text) return { ok: false, error: 'Pick one of your accounts, or paste the account id of the person you pay.' };
  const same = 'Choose a different account: money cannot move to the account it comes from.';
  const named = own.filter((account) => account.name === text);
  const others = named.filter((account) => account.id !== source.id);
  if (others.length > 1) return { ok: false, error: 'Several of your accounts have this name: paste the account id instead.' };
  const target = others[0] ?? (named.length === 0 ? own.find((account) => account.id === text.toLowerCase()) : undefined);
  if (named.length > 0 && others.length === 0) return { ok: false, error: same };
  if (target?.id === source.id) return { ok: false, error: same };
  if (target && target.currency !== source.currency) {
    return { ok: false, error: `${target.name} holds ${target.currency}: it can only receive ${target.currency}.` };
  }
  if (target) return { ok: true, id: target.id };
  if (!ACCOUNT_ID.test(text)) {
    return {
      ok: false,
      error: 'That is not an account id. An id has 36 characters, like 3f2b8c1e-…; the payee finds it under "Copy account id".',
    };
  }
  return { ok: true, id: text.toLowerCase() };
}
