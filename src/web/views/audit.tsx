import { Panel } from "../components.js";

export function AuditView() {
  return (
    <div class="view">
      <Panel title="AuditView">
        <p>Coming next.</p>
      </Panel>
    </div>
  );
}
