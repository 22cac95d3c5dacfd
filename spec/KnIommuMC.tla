---------------------------- MODULE KnIommuMC ----------------------------
(***************************************************************************)
(* Model-checking definitions for KnIommu.tla, used by the .cfg files of   *)
(* this directory.  spec/README.md "Checking with TLC" justifies each one. *)
(***************************************************************************)
EXTENDS KnIommu, TLC

\* The fingerprint TLC keys states by. Dropped or normalised, because no action reads them and
\* every invariant that reads them is decided the same way on the identified states:
\*  - lastCall: a pure output (the Retcode of the last call); MCRetcodeTyped checks it on every
\*    transition instead;
\*  - the owner and kind of a DID that is free (dead and unused by the hardware) and the
\*    footprint and direction of a free buffer object: history, overwritten on reuse;
\*  - a DMA that did not reach memory through a translation: Isolation is trivially true then.
MCView ==
    <<status, handles, autoDom, attachedOnce, domLive,
      [m \in Dids |-> IF m \in FreeDids THEN None ELSE domOwner[m]],
      [m \in Dids |-> m \notin FreeDids /\ domAuto[m]],
      devs, bufCreator,
      [b \in BufIds |-> IF bufCreator[b] = None THEN 1 ELSE bufPages[b]],
      [b \in BufIds |-> IF bufCreator[b] = None THEN {"R", "W"} ELSE bufDir[b]],
      grant, mapping, hwCtx, hwMap, staleCtx, staleMap, busy,
      IF lastDma # None /\ lastDma.ok /\ ~lastDma.untranslated THEN lastDma ELSE None>>

\* A state right after a DMA is checked but not explored further: a DMA changes only lastDma, and
\* every successor of such a state is also a successor of the state before the DMA.
MCConstraint == lastDma = None

\* TypeOK's conjunct on lastCall, as an action property (the VIEW ignores lastCall).
MCRetcodeTyped == [][lastCall'.rc \in Retcodes]_vars

\* Overrides for the CI scope (KnIommuCI.cfg). A failing call and KnIoDmaGetInfo change only
\* lastCall and lastDma, so under MCView they are stuttering steps: leaving them out loses no
\* state. Their Retcodes are checked against the implementation by trace validation instead.
MCNoFail(name, p, rc) == FALSE
MCNoInfo(p, h) == FALSE
\* Write-only buffers behave as read-only ones with the directions swapped (Dma tries both).
MCDirSets == {{"R"}, {"R", "W"}}

\* KnIommu.cfg: BDFs on the bus are interchangeable (no action compares two of them).
MCDeviceSymmetry == Permutations(Devices)
=============================================================================
