--------------------------- MODULE KnIommuTrace ---------------------------
(***************************************************************************)
(* Trace validation (Cirstea, Kuppe, Loillier, Merz, Riviere: "Validating  *)
(* Traces of Distributed Programs Against TLA+ Specifications", 2024): a   *)
(* trace of the conformance suite (KnIommuTraceData, written by            *)
(* refinement_tests/src/trace_writer.cpp) is accepted iff some behaviour   *)
(* of KnIommu.tla produces it.  TraceNext is KnIommu's own actions,        *)
(* constrained by each logged event: the event names the action and its   *)
(* arguments, and the step must show the observed Retcode, new handle,     *)
(* IOVA or DMA outcome.  Steps the implementation does not log (the        *)
(* Invalidate phase of a revoking call) may happen between events.         *)
(*                                                                         *)
(* TLC result: "Invariant TraceIncomplete is violated" = the whole trace   *)
(* was matched (accepted).  No violation = rejected; the printed "matched" *)
(* lines give the last event matched, so the next one has no spec step.    *)
(***************************************************************************)
EXTENDS KnIommu, KnIommuTraceData, TLC, Sequences

VARIABLE l  \* the next event of TraceLog to match
traceVars == <<vars, l>>

ASSUME TLCSet(1, 0)  \* register 1: the most events matched by any behaviour so far

TraceInit == Init /\ l = 1

\* The spec action an event names, with the event's arguments.
Act(e) ==
    CASE e.op = "ProcessCreate" -> ProcessCreate(e.pid)
      [] e.op = "ProcessExit" -> ProcessExit(e.pid)
      [] e.op = "AttachDevice" -> AttachDevice(e.pid, e.dev)
      [] e.op = "DetachDevice" -> DetachDevice(e.pid, e.dev)
      [] e.op = "CreateDomain" -> CreateDomain(e.pid)
      [] e.op = "AttachDeviceToDomain" -> AttachDeviceToDomain(e.pid, e.dev, e.h)
      [] e.op = "DetachDeviceFromDomain" -> DetachDeviceFromDomain(e.pid, e.dev, e.h)
      [] e.op = "DmaCreate" -> DmaCreate(e.pid, e.pages, e.dir)
      [] e.op = "DmaCreateContinuous" -> DmaCreateContinuous(e.pid, e.pages, e.dir)
      [] e.op = "DmaMap" -> DmaMap(e.pid, e.h)
      [] e.op = "DmaBegin" -> DmaBegin(e.pid, e.h)
      [] e.op = "DmaBeginEx" -> DmaBeginEx(e.pid, e.h, e.h2)
      [] e.op = "HandleClose" -> HandleClose(e.pid, e.h)
      [] e.op = "DmaGetInfo" -> DmaGetInfo(e.pid, e.h)
      [] e.op = "DmaGetPhysInfo" -> DmaGetPhysInfo(e.pid, e.h)
      [] e.op = "Dma" -> \E v \in e.iovaPages : Dma(e.dev, v, e.dir)

\* What the implementation observed, on the step.
Observed(e) ==
    IF e.op = "Dma"
    THEN /\ lastDma' # None
         /\ lastDma'.ok = e.ok
         /\ ~e.ok => lastDma'.fault = e.fault
    ELSE /\ lastCall'.rc = e.rc
         /\ e.out # 0 => handles[e.pid][e.out] = None /\ handles'[e.pid][e.out] # None
         /\ e.hasIovaPage => \E g \in GrantIds : grant[g] = None /\ grant'[g] # None
                                            /\ grant'[g].iovaPage = e.iovaPage

\* Outside the spec (spec/README.md): the implementation ran out of memory, or rejected a size,
\* order, flag or offset. The spec's state does not change; the call is still by a live caller.
Unmodelled(e) ==
    /\ e.unmodelled
    /\ Caller(e.pid)
    /\ Record(e.op, e.pid, e.rc)
    /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>

\* The suite calls one API function at a time and a call returns only after its Invalidate step,
\* so every revocation is complete before the next logged event.
MatchEvent ==
    /\ l <= Len(TraceLog)
    /\ \A p \in Pids : ~busy[p]
    /\ LET e == TraceLog[l] IN
         \/ Unmodelled(e)
         \/ ~e.unmodelled /\ Act(e) /\ Observed(e)
    /\ l' = l + 1
    /\ IF l > TLCGet(1) THEN TLCSet(1, l) /\ PrintT(<<"matched", l>>) ELSE TRUE

\* An unlogged step: the second phase of a revoking call.
Internal == \E p \in Pids : Invalidate(p) /\ UNCHANGED l

TraceNext == MatchEvent \/ Internal

\* States that differ only in the last Retcode or DMA outcome (already compared with the event on
\* the step that produced them) have the same continuations: TLC keys states without them.
TraceView == <<status, handles, autoDom, attachedOnce, domLive, domOwner, domAuto, devs, bufCreator,
               bufPages, bufDir, grant, mapping, hwCtx, hwMap, staleCtx, staleMap, busy, l>>
TraceSpec == TraceInit /\ [][TraceNext]_traceVars

\* Violated exactly when every event has been matched: the trace is accepted.
TraceIncomplete == l <= Len(TraceLog)
=============================================================================
