import { Panel } from "../components.js";

export function TimelineView(_props: { group: string | null }) {
  return (
    <div class="view">
      <Panel title="TimelineView">
        <p>Coming next.</p>
      </Panel>
    </div>
  );
}
