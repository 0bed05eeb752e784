// The image store: each image's origin (added by an operator, or captured from a machine by a recipe),
// its size, and how the server has read it since it started (batches, members, solo streams).
import { ImageDetail, ImageList } from "../../../protocol/images.js";
import { path, type Api } from "../api.js";
import { formatBytes } from "../../cli/format.js";
import { formatTime } from "../format.js";
import { Problem, Section, useLoad } from "./common.js";

async function loadImages(api: Api): Promise<ImageDetail[]> {
  const { images } = await api.get("/v1/images", ImageList);
  return Promise.all(images.map((image) => api.get(path`/v1/images/${image.sha256}`, ImageDetail)));
}

export function ImagesView(props: { api: Api; tick: number }) {
  // Read counters move while machines install: reload every few polls.
  const loaded = useLoad(() => loadImages(props.api), String(Math.floor(props.tick / 5)));
  return (
    <Section title="Images">
      <Problem error={loaded.error} />
      <table class="grid" aria-label="Images">
        <thead>
          <tr>
            <th>Name</th>
            <th>Purpose</th>
            <th>Format</th>
            <th>Stored</th>
            <th>On disk</th>
            <th>Origin</th>
            <th>Store read</th>
            <th>Sent</th>
            <th>Batches (members)</th>
            <th>Solo streams</th>
            <th>sha256</th>
          </tr>
        </thead>
        <tbody>
          {(loaded.data ?? []).map(({ image, reads }) => (
            <tr key={image.sha256}>
              <td>{image.name}</td>
              <td>{image.purpose}</td>
              <td>{image.format}</td>
              <td class="num">{formatBytes(image.sizeBytes)}</td>
              <td class="num">{formatBytes(image.rawBytes)}</td>
              <td>
                {image.origin
                  ? `captured by recipe ${image.origin.recipe} from ${image.origin.sourceMachine}, ${formatTime(image.origin.capturedAt)}`
                  : `added ${formatTime(image.createdAt)}`}
              </td>
              <td class="num">{formatBytes(reads.storeBytesRead)}</td>
              <td class="num">{formatBytes(reads.bytesSent)}</td>
              <td class="num">
                {reads.batches} ({reads.batchedMembers})
              </td>
              <td class="num">
                {reads.soloStreams}
                {reads.detached > 0 && ` (${reads.detached} detached)`}
              </td>
              <td>
                <code title={image.sha256}>{image.sha256.slice(0, 12)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {loaded.data?.length === 0 && <p class="muted">no images (bootwright image add)</p>}
    </Section>
  );
}
