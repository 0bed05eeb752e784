// Virtualised rows: only the rows in view (and a few either side) are in the DOM, so a list of 10,000
// machines scrolls as lightly as one of 20. Every row has the same height; the scroller's full height
// is kept by one spacer.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export const ROW_HEIGHT = 30;
const OVERSCAN = 8;

export function VirtualRows<T>(props: {
  items: readonly T[];
  header: ComponentChildren;
  row: (item: T, index: number) => ComponentChildren;
  label: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => {
      setHeight(element.clientHeight);
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, []);

  // A shorter list (a new filter) must not leave the view scrolled past its end.
  const total = props.items.length * ROW_HEIGHT;
  const top = Math.min(scrollTop, Math.max(0, total - height));
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.items.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.items.slice(first, last);

  return (
    <div class="table" role="table" aria-label={props.label} aria-rowcount={props.items.length + 1}>
      {props.header}
      <div
        class="scroller"
        ref={scroller}
        onScroll={(event) => {
          setScrollTop(event.currentTarget.scrollTop);
        }}
      >
        <div class="spacer" style={{ height: `${total}px` }}>
          <div class="rows" style={{ transform: `translateY(${first * ROW_HEIGHT}px)` }}>
            {visible.map((item, i) => props.row(item, first + i))}
          </div>
        </div>
      </div>
    </div>
  );
}
