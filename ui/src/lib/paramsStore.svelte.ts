// The Parameters view's state, kept across view switches: the vehicle's parameters as last
// downloaded or confirmed, the pilot's pending edits, and how each write went.
import type { ParamView } from "./bindings/ParamView";
import type { ParamDiff } from "./params";
import { Transfer } from "./transfers.svelte";

/** The progress kinds the Parameters view's transfers report. */
export const PARAM_KINDS = ["param_download"];

export type WriteState = { state: "writing" } | { state: "ok"; text: string } | { state: "error"; text: string };

export class ParamsStore {
  params = $state.raw<ParamView[]>([]);
  /** Text typed per parameter name, until written or discarded. */
  edits = $state.raw<Record<string, string>>({});
  writes = $state.raw<Record<string, WriteState>>({});
  query = $state("");
  diff = $state.raw<{ fileName: string; diff: ParamDiff } | null>(null);
  readonly transfer = new Transfer();

  edit(name: string, text: string): void {
    this.edits = { ...this.edits, [name]: text };
  }

  forget(name: string): void {
    const { [name]: _gone, ...rest } = this.edits;
    this.edits = rest;
  }

  confirmed(p: ParamView): void {
    this.params = this.params.map((q) => (q.name === p.name ? p : q));
  }

  setWrite(name: string, w: WriteState): void {
    this.writes = { ...this.writes, [name]: w };
  }
}
