// How strong a new vault passphrase looks, for the hint under the create form. A rough
// estimate (character classes × length, with penalties for the obvious), not a promise:
// it only has to steer a pilot away from "password1" and towards a few random words.

export type Strength = "too_short" | "weak" | "fair" | "strong";

export interface StrengthHint {
  strength: Strength;
  /** Estimated bits of guessing work. */
  bits: number;
  /** One sentence for the pilot. */
  text: string;
}

/** Passphrases shorter than this are refused (the backend refuses them too). */
export const MIN_PASSPHRASE_CHARS = 8;

const COMMON = ["password", "passwort", "airgap", "qwerty", "azerty", "123456", "letmein", "admin", "drone", "pilot", "ardupilot", "mavlink"];

function poolSize(p: string): number {
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(p)) pool += 33;
  return Math.max(pool, 1);
}

/** Characters that add little: runs of one character and simple sequences ("abcd", "1234"). */
function predictableChars(p: string): number {
  let n = 0;
  for (let i = 2; i < p.length; i++) {
    const a = p.charCodeAt(i - 2);
    const b = p.charCodeAt(i - 1);
    const c = p.charCodeAt(i);
    if ((a === b && b === c) || (b - a === 1 && c - b === 1) || (a - b === 1 && b - c === 1)) n++;
  }
  return n;
}

export function passphraseStrength(p: string): StrengthHint {
  const chars = [...p];
  if (chars.length < MIN_PASSPHRASE_CHARS) {
    return { strength: "too_short", bits: 0, text: `At least ${MIN_PASSPHRASE_CHARS} characters.` };
  }
  const lower = p.toLowerCase();
  let effective = chars.length - predictableChars(p);
  for (const word of COMMON) if (lower.includes(word)) effective -= word.length - 1;
  effective = Math.max(effective, 1);
  const bits = Math.round(effective * Math.log2(poolSize(p)));
  if (bits < 40) return { strength: "weak", bits, text: "Weak: easy to guess. Use four or more random words." };
  if (bits < 64) return { strength: "fair", bits, text: "Fair: add a word or two for a passphrase that holds for years." };
  return { strength: "strong", bits, text: "Strong." };
}

/** Why the create form cannot be sent yet, or null when it can. */
export function createProblem(pass: string, again: string): string | null {
  if ([...pass].length < MIN_PASSPHRASE_CHARS) return `The passphrase needs at least ${MIN_PASSPHRASE_CHARS} characters.`;
  if (pass !== again) return "The two passphrases differ.";
  return null;
}
