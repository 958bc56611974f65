import { Panel } from "../components.js";

export function ImagesView() {
  return (
    <div class="view">
      <Panel title="ImagesView">
        <p>Coming next.</p>
      </Panel>
    </div>
  );
}
