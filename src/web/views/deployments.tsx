import { Panel } from "../components.js";

export function DeploymentsView(_props: { selected: string | null }) {
  return (
    <div class="view">
      <Panel title="DeploymentsView">
        <p>Coming next.</p>
      </Panel>
    </div>
  );
}
