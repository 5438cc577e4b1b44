// One confirmation at a time, asked from anywhere and answered in the ConfirmDialog: every
// vehicle command waits on `ask` so nothing reaches the vehicle without the pilot's yes.
export interface ConfirmRequest {
  title: string;
  body: string;
  /** The yes button's words, e.g. "Arm". */
  action: string;
  /** Red styling for what can hurt (force-disarm). */
  danger: boolean;
}

export class Confirmer {
  request = $state.raw<ConfirmRequest | null>(null);
  private resolve: ((yes: boolean) => void) | null = null;

  ask(request: Partial<ConfirmRequest> & { title: string; action: string }): Promise<boolean> {
    // A new question dismisses an unanswered one: that one counts as "no".
    this.answer(false);
    this.request = { body: "", danger: false, ...request };
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  answer(yes: boolean): void {
    const resolve = this.resolve;
    this.resolve = null;
    this.request = null;
    resolve?.(yes);
  }
}
