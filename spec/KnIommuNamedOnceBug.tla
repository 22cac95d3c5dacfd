------------------------- MODULE KnIommuNamedOnceBug -------------------------
(***************************************************************************)
(* The teeth of ObjectNamedOnce (spec_tlc_named_once_bug): KnIommu with    *)
(* one extra, wrong step that copies a grant handle into a free slot of    *)
(* the same process (a "duplicate handle" call the API does not have).     *)
(* TLC must report ObjectNamedOnce violated, and no invariant listed       *)
(* before it in KnIommuNamedOnceBug.cfg.                                   *)
(***************************************************************************)
EXTENDS KnIommuMC

DupGrantHandle(p, h) ==
    /\ Caller(p)
    /\ handles[p][h] # None /\ handles[p][h].kind = "Grant" /\ FreeHandle(p) # None
    /\ handles' = [handles EXCEPT ![p][FreeHandle(p)] = handles[p][h]]
    /\ lastDma' = None
    /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufVars, hwVars, lastCall>>

BugNext == Next \/ \E p \in Pids, h \in HandleVals : DupGrantHandle(p, h)
BugSpec == Init /\ [][BugNext]_vars
=============================================================================
