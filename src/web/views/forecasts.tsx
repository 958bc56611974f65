import { Panel } from "../components.js";

export function ForecastsView() {
  return (
    <div class="view">
      <Panel title="ForecastsView">
        <p>Coming next.</p>
      </Panel>
    </div>
  );
}
