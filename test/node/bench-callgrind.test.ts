import { describe, expect, it } from 'vitest';
import { parseCallgrind, windowCounts } from '../../bench/lib/callgrind.ts';

// bench:instructions splits a window's instructions into the main thread's collections and the
// rest: a collection nested in another (the allocation path under a MinorGCJob task) must count
// once, and the cost line after `calls=` is that call's inclusive cost, not the caller's own.
const dump = `# callgrind format
version: 1
positions: line
events: Ir
summary: 1000

fn=(1) main
0 100
cfn=(2) v8::internal::MinorGCJob::Task::RunInternal()
calls=1 0
0 300
cfn=(3) Builtins_Foo
calls=4 0
0 200

fn=(2)
0 10
cfn=(4) v8::internal::HeapAllocator::CollectGarbageAndRetryAllocation(v8::base::FunctionRef<bool ()>)
calls=1 0
0 290

fn=(4)
cfn=(5) void heap::base::Stack::SetMarkerAndCallbackImpl<v8::internal::Heap::CollectGarbage()>
calls=1 0
0 280

fn=(5)
cfn=(6) v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace)
calls=1 0
0 270

fn=(3)
0 50
cfn=(6)
calls=2 0
+1 150
`;

describe('parseCallgrind (bench:instructions)', () => {
  it('counts each collection once, from its outermost entry', () => {
    // MinorGCJob's 300 (its nested entries are inside it) and Builtins_Foo's two allocations' 150.
    expect(parseCallgrind(dump)).toEqual({ ir: 1000, gcIr: 450, gcEntries: 3 });
  });

  it('adds the threads and keeps the main thread apart', () => {
    const other = 'events: Ir\nsummary: 70\nfn=(1) v8::base::ThreadEntry(void*)\n0 70\n';
    expect(
      windowCounts([
        { thread: 1, text: dump },
        { thread: 2, text: other },
      ]),
    ).toEqual({ ir: 1070, gcIr: 450, gcEntries: 3, otherThreadsIr: 70 });
  });
});
