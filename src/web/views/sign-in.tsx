import { useState } from "preact/hooks";
import { signIn } from "../api.js";

/** The admin token, once; the control plane answers with an HttpOnly session cookie. */
export function SignInView(props: { tokenFile: string; onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="sign-in">
      <form
        aria-label="Sign in"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const failed = await signIn(token.trim());
          setBusy(false);
          if (failed) setError(failed);
          else props.onSignedIn();
        }}
      >
        <h1>strata</h1>
        <p>Sign in with the control plane's admin token. It is in the file</p>
        <p>
          <code class="token-file">{props.tokenFile}</code>
        </p>
        <p class="hint">on the control plane's machine (print it with cat).</p>
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          autoFocus
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}
