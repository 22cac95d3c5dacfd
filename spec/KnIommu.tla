------------------------------ MODULE KnIommu ------------------------------
(***************************************************************************)
(* The kniommu API contract (docs/semantics.md) as a state machine.        *)
(*                                                                         *)
(* API state: processes and their handle tables, domains (automatic and    *)
(* created), attachments, DMA buffers, grants (buffer-in-domain            *)
(* associations) and mappings.  Hardware view, kept separately: the        *)
(* context entries (hwCtx) and second-level translations (hwMap) the       *)
(* remapping unit may still use, caches included.  Granting calls add to   *)
(* the hardware view at once; revoking calls (detach, closing a grant or a *)
(* domain, process exit) are two-phase: the call changes the API state and *)
(* records what it revoked as stale, and only its Invalidate step, which   *)
(* must happen before the call returns, removes the stale entries from the *)
(* hardware view.  A device DMA succeeds iff the hardware view allows it.  *)
(*                                                                         *)
(* Names are those of model/model.h; every call records its Retcode in     *)
(* lastCall, decided by the first failing check in the documented order.  *)
(* Abstractions: sizes are counted in pages (argument validation of sizes, *)
(* orders and flags is the model's job); running out of frames or memory   *)
(* is not modelled, running out of DIDs, handle slots and IOVA space is;   *)
(* calls by processes that are not alive are not modelled.                 *)
(*                                                                         *)
(* Two names that differ from the C++ model on purpose (docs/semantics.md  *)
(* "Glossary"): a domain is identified by its DID (an element of Dids),    *)
(* which is recycled once the hardware can no longer use it; the model's   *)
(* DomainSerial is never reused.  IOVAs here are 4 KiB page numbers        *)
(* (iovaPage); the model's and the C API's iova is a byte address.         *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Pids,           \* processes that may be created, e.g. {1, 2}
    Devices,        \* BDFs present on the bus
    UnknownDevices, \* BDF values with no device behind them
    Dids,           \* usable domain IDs: at most Cardinality(Dids) domains live at once
    BufIds,         \* buffer objects
    GrantIds,       \* grant objects
    MapIds,         \* mapping objects
    MaxHandle,      \* handle values 1..MaxHandle per process
    MaxPages,       \* a buffer's footprint is 1..MaxPages pages
    IovaPages,      \* IOVA pages 0..IovaPages-1 exist (2^address_width / 4096)
    IommuEnabled,   \* FALSE: no remapping unit, devices reach all memory
    None,           \* a model value: "no such object"
    SeededBug       \* TRUE only to show that TLC has teeth (spec/README.md "Seeded bug"): closing
                    \* a grant then forgets to revoke its translations

ASSUME IommuEnabled \in BOOLEAN /\ SeededBug \in BOOLEAN /\ MaxHandle \in Nat /\ MaxPages \in Nat \ {0}
ASSUME IovaPages \in Nat \ {0} /\ Pids \subseteq Nat /\ Devices \cap UnknownDevices = {}

HandleVals == 1..MaxHandle
HandleArgs == 1..(MaxHandle + 1)         \* MaxHandle + 1: a value never issued
Kinds == {"Domain", "Buffer", "Grant", "Mapping"}
Entries == [kind : Kinds, obj : Dids \cup BufIds \cup GrantIds \cup MapIds, revoked : BOOLEAN]
DirSets == {{"R"}, {"W"}, {"R", "W"}}  \* TO_DEVICE = R, FROM_DEVICE = W, BIDIR = R|W
AllIovaPages == 0..(IovaPages - 1)
Retcodes == {"rcOk", "rcInvalidArgument", "rcOutOfMemory", "rcBusy", "rcResourceNotFound",
             "rcAlreadyExists", "rcHandleRevoked", "rcDeviceNotFound"}

VARIABLES
    status,       \* [Pids -> {"unborn", "alive", "exited"}]
    handles,      \* [Pids -> [HandleVals -> Entries \cup {None}]]
    autoDom,      \* [Pids -> Dids \cup {None}]: the automatic domain
    attachedOnce, \* [Pids -> BOOLEAN]: history, some KnIommuAttachDevice attached a device
    domLive,      \* [Dids -> BOOLEAN]
    domOwner,     \* [Dids -> Pids \cup {None}]: owner (kept after destruction, as history)
    domAuto,      \* [Dids -> BOOLEAN]
    devs,         \* [Dids -> SUBSET Devices]: the attachments of the API state
    bufCreator,   \* [BufIds -> Pids \cup {None}]: None = the buffer object is free
    bufPages,     \* [BufIds -> 1..MaxPages]: footprint
    bufDir,       \* [BufIds -> DirSets]
    grant,        \* [GrantIds -> [buf, dom, iovaPage] \cup {None}]: iovaPage = first IOVA page
    mapping,      \* [MapIds -> BufIds \cup {None}]
    hwCtx,        \* SUBSET (Devices \X Dids): context entries the hardware may use
    hwMap,        \* SUBSET (Dids \X AllIovaPages \X BufIds \X Nat \X DirSets): translations it may use
    staleCtx,     \* [Pids -> SUBSET hwCtx]: revoked by p's call in flight, not yet invalidated
    staleMap,     \* [Pids -> SUBSET hwMap]: likewise for translations
    busy,         \* [Pids -> BOOLEAN]: p is between the two phases of a revoking call
    lastCall,     \* [name, pid, rc, count] of the last API call
    lastDma       \* the last device DMA, or None

vars == <<status, handles, autoDom, attachedOnce, domLive, domOwner, domAuto, devs, bufCreator,
          bufPages, bufDir, grant, mapping, hwCtx, hwMap, staleCtx, staleMap, busy, lastCall,
          lastDma>>
procVars == <<status, handles, autoDom, attachedOnce>>
domVars == <<domLive, domOwner, domAuto, devs>>
bufVars == <<bufCreator, bufPages, bufDir, grant, mapping>>
hwVars == <<hwCtx, hwMap, staleCtx, staleMap, busy>>

(***************************************************************************)
(* Derived views                                                           *)
(***************************************************************************)
LiveDoms == {m \in Dids : domLive[m]}
LiveGrants == {g \in GrantIds : grant[g] # None}
Footprint(g) == {grant[g].iovaPage + i : i \in 0..(bufPages[grant[g].buf] - 1)}

\* What the API state says the hardware must allow (docs/semantics.md "What a device can reach").
ApiCtx == {<<d, m>> \in Devices \X Dids : domLive[m] /\ d \in devs[m]}
ApiMap == UNION {{<<grant[g].dom, grant[g].iovaPage + i, grant[g].buf, i, bufDir[grant[g].buf]>> :
                    i \in 0..(bufPages[grant[g].buf] - 1)} :
                 g \in {x \in LiveGrants : grant[x].dom # None /\ IommuEnabled}}
StaleCtx == UNION {staleCtx[p] : p \in Pids}
StaleMap == UNION {staleMap[p] : p \in Pids}

Attachment(d) == IF \E m \in LiveDoms : d \in devs[m] THEN CHOOSE m \in LiveDoms : d \in devs[m]
                 ELSE None

\* A DID is recycled only once the hardware can no longer use it.
FreeDids == {m \in Dids : /\ ~domLive[m]
                          /\ \A c \in hwCtx : c[2] # m
                          /\ \A t \in hwMap : t[1] # m}
NamedByHandle(kind, o) == \E p \in Pids, h \in HandleVals :
                              handles[p][h] # None /\ handles[p][h].kind = kind /\ handles[p][h].obj = o
\* A grant id stays taken while a (possibly revoked) handle names it.
FreeGrantIds == {g \in GrantIds : grant[g] = None /\ ~NamedByHandle("Grant", g)}
FreeMapIds == {x \in MapIds : mapping[x] = None}
FreeBufIds == {b \in BufIds : bufCreator[b] = None}

\* The smallest free handle value of p, or None.
FreeHandle(p) == IF \E h \in HandleVals : handles[p][h] = None
                 THEN CHOOSE h \in HandleVals : handles[p][h] = None /\ \A k \in 1..(h - 1) : handles[p][k] # None
                 ELSE None

\* docs/semantics.md "Handles": live entry, not revoked, right kind.
Resolve(p, h, kinds) ==
    IF h \notin HandleVals \/ handles[p][h] = None THEN "rcInvalidArgument"
    ELSE IF handles[p][h].revoked THEN "rcHandleRevoked"
    ELSE IF handles[p][h].kind \notin kinds THEN "rcInvalidArgument"
    ELSE "rcOk"
Obj(p, h) == handles[p][h].obj

\* First IOVA pages the implementation may choose for `pages` pages in domain m: in range, and
\* not overlapping a live grant or a translation the hardware may still use (ranges are recycled
\* only after invalidation).
\* IovaPageChoices: where the implementation may place a grant; all of AllIovaPages here. Trace
\* validation (KnIommuTrace.tla) narrows it to the IOVA pages the trace shows, so TLC need not
\* enumerate a 2^36-page space; the conditions below still decide which of them are legal.
IovaPageChoices == AllIovaPages
ValidIovaPages(m, pages) ==
    {v \in IovaPageChoices : /\ v + pages <= IovaPages
                   /\ \A g \in LiveGrants : grant[g].dom = m => Footprint(g) \cap (v..(v + pages - 1)) = {}
                   /\ \A e \in hwMap : e[1] = m => e[2] \notin v..(v + pages - 1)}

\* A buffer is held while a handle, grant, mapping or hardware translation refers to it.
BufRefd(b, hs, gs, ms, hm) ==
    \/ \E p \in Pids, h \in HandleVals : hs[p][h] # None /\ hs[p][h].kind = "Buffer" /\ hs[p][h].obj = b
    \/ \E g \in GrantIds : gs[g] # None /\ gs[g].buf = b
    \/ \E x \in MapIds : ms[x] = b
    \/ \E e \in hm : e[3] = b
Collect(hs, gs, ms, hm) == [b \in BufIds |-> IF BufRefd(b, hs, gs, ms, hm) THEN bufCreator[b] ELSE None]

Caller(p) == status[p] = "alive" /\ ~busy[p]
\* Every step but a DMA resets lastDma: Isolation judges a DMA in the state it happened in.
Record(name, p, rc) == /\ lastCall' = [name |-> name, pid |-> p, rc |-> rc, count |-> 0]
                       /\ lastDma' = None
Fail(name, p, rc) == /\ rc # "rcOk"
                     /\ Record(name, p, rc)
                     /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>

(***************************************************************************)
(* Initial state                                                           *)
(***************************************************************************)
Init ==
    /\ status = [p \in Pids |-> "unborn"]
    /\ handles = [p \in Pids |-> [h \in HandleVals |-> None]]
    /\ autoDom = [p \in Pids |-> None]
    /\ attachedOnce = [p \in Pids |-> FALSE]
    /\ domLive = [m \in Dids |-> FALSE]
    /\ domOwner = [m \in Dids |-> None]
    /\ domAuto = [m \in Dids |-> FALSE]
    /\ devs = [m \in Dids |-> {}]
    /\ bufCreator = [b \in BufIds |-> None]
    /\ bufPages = [b \in BufIds |-> 1]
    /\ bufDir = [b \in BufIds |-> {"R", "W"}]
    /\ grant = [g \in GrantIds |-> None]
    /\ mapping = [x \in MapIds |-> None]
    /\ hwCtx = {}
    /\ hwMap = {}
    /\ staleCtx = [p \in Pids |-> {}]
    /\ staleMap = [p \in Pids |-> {}]
    /\ busy = [p \in Pids |-> FALSE]
    /\ lastCall = [name |-> "none", pid |-> None, rc |-> "rcOk", count |-> 0]
    /\ lastDma = None

(***************************************************************************)
(* Processes                                                               *)
(***************************************************************************)
\* Pids are handed out in creation order.
ProcessCreate(p) ==
    /\ status[p] = "unborn"
    /\ \A q \in Pids : q < p => status[q] # "unborn"
    /\ status' = [status EXCEPT ![p] = "alive"]
    /\ Record("process_create", p, "rcOk")
    /\ UNCHANGED <<handles, autoDom, attachedOnce, domVars, bufVars, hwVars>>

\* Exit closes every handle and destroys every domain of p; what the hardware could still use
\* becomes stale until p's Invalidate step.
ProcessExit(p) ==
    LET mine == {m \in LiveDoms : domOwner[m] = p}
        Holds(kind, o) == \E h \in HandleVals : /\ handles[p][h] # None
                                               /\ handles[p][h].kind = kind
                                               /\ handles[p][h].obj = o
        \* Grants into p's domains, and p's domain-less grants (IOMMU disabled).
        gone == {g \in LiveGrants : grant[g].dom \in mine \/ Holds("Grant", g)}
        hs == [handles EXCEPT ![p] = [h \in HandleVals |-> None]]
        gs == [g \in GrantIds |-> IF g \in gone THEN None ELSE grant[g]]
        ms == [x \in MapIds |-> IF Holds("Mapping", x) THEN None ELSE mapping[x]]
    IN /\ Caller(p)
       /\ status' = [status EXCEPT ![p] = "exited"]
       /\ handles' = hs
       /\ autoDom' = [autoDom EXCEPT ![p] = None]
       /\ domLive' = [m \in Dids |-> IF m \in mine THEN FALSE ELSE domLive[m]]
       /\ devs' = [m \in Dids |-> IF m \in mine THEN {} ELSE devs[m]]
       /\ grant' = gs
       /\ mapping' = ms
       /\ staleCtx' = [staleCtx EXCEPT ![p] = {e \in hwCtx : e[2] \in mine}]
       /\ staleMap' = [staleMap EXCEPT ![p] = {e \in hwMap : e[1] \in mine}]
       /\ busy' = [busy EXCEPT ![p] = TRUE]
       /\ bufCreator' = Collect(hs, gs, ms, hwMap)
       /\ Record("process_exit", p, "rcOk")
       /\ UNCHANGED <<attachedOnce, domOwner, domAuto, bufPages, bufDir, hwCtx, hwMap>>

\* The second phase of every revoking call: invalidation completes, the call returns. Frames of
\* buffers nothing refers to any more are released only now.
Invalidate(p) ==
    LET hm == hwMap \ staleMap[p]
    IN /\ busy[p]
       /\ hwCtx' = hwCtx \ staleCtx[p]
       /\ hwMap' = hm
       /\ staleCtx' = [staleCtx EXCEPT ![p] = {}]
       /\ staleMap' = [staleMap EXCEPT ![p] = {}]
       /\ busy' = [busy EXCEPT ![p] = FALSE]
       /\ bufCreator' = Collect(handles, grant, mapping, hm)
       /\ lastDma' = None
       /\ UNCHANGED <<procVars, domVars, bufPages, bufDir, grant, mapping, lastCall>>

\* Revoking calls end like this: p waits for its Invalidate step.
Revoke(p, ctx, map) ==
    /\ staleCtx' = [staleCtx EXCEPT ![p] = ctx]
    /\ staleMap' = [staleMap EXCEPT ![p] = map]
    /\ busy' = [busy EXCEPT ![p] = TRUE]
    /\ UNCHANGED <<hwCtx, hwMap>>

(***************************************************************************)
(* KnIommuAttachDevice / KnIommuDetachDevice (the automatic domain)        *)
(***************************************************************************)
AttachDevice(p, d) ==
    LET rc == IF ~IommuEnabled THEN "rcOk"
              ELSE IF d \notin Devices THEN "rcDeviceNotFound"
              ELSE IF autoDom[p] # None /\ d \in devs[autoDom[p]] THEN "rcAlreadyExists"
              ELSE IF Attachment(d) # None THEN "rcBusy"
              ELSE IF autoDom[p] = None /\ FreeDids = {} THEN "rcOutOfMemory"
              ELSE "rcOk"
        m == IF autoDom[p] # None THEN autoDom[p] ELSE CHOOSE x \in FreeDids : TRUE
    IN /\ Caller(p)
       /\ \/ Fail("attach_device", p, rc)
          \/ /\ rc = "rcOk" /\ ~IommuEnabled
             /\ Record("attach_device", p, rc)
             /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>
          \/ /\ rc = "rcOk" /\ IommuEnabled
             /\ autoDom' = [autoDom EXCEPT ![p] = m]
             /\ attachedOnce' = [attachedOnce EXCEPT ![p] = TRUE]
             /\ domLive' = [domLive EXCEPT ![m] = TRUE]
             /\ domOwner' = [domOwner EXCEPT ![m] = p]
             /\ domAuto' = [domAuto EXCEPT ![m] = TRUE]
             /\ devs' = [devs EXCEPT ![m] = @ \cup {d}]
             /\ hwCtx' = hwCtx \cup {<<d, m>>}
             /\ Record("attach_device", p, rc)
             /\ UNCHANGED <<status, handles, bufVars, hwMap, staleCtx, staleMap, busy>>

DetachDevice(p, d) ==
    LET rc == IF ~IommuEnabled THEN "rcOk"
              ELSE IF d \notin Devices THEN "rcDeviceNotFound"
              ELSE IF autoDom[p] = None THEN "rcResourceNotFound"
              ELSE IF d \notin devs[autoDom[p]] THEN "rcResourceNotFound"
              ELSE "rcOk"
    IN /\ Caller(p)
       /\ \/ Fail("detach_device", p, rc)
          \/ /\ rc = "rcOk" /\ ~IommuEnabled
             /\ Record("detach_device", p, rc)
             /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>
          \/ /\ rc = "rcOk" /\ IommuEnabled
             /\ devs' = [devs EXCEPT ![autoDom[p]] = @ \ {d}]
             /\ Revoke(p, {<<d, autoDom[p]>>}, {})
             /\ Record("detach_device", p, rc)
             /\ UNCHANGED <<procVars, domLive, domOwner, domAuto, bufVars>>

(***************************************************************************)
(* Created domains                                                         *)
(***************************************************************************)
CreateDomain(p) ==
    LET rc == IF FreeDids = {} \/ FreeHandle(p) = None THEN "rcOutOfMemory" ELSE "rcOk"
        m == CHOOSE x \in FreeDids : TRUE
        h == FreeHandle(p)
    IN /\ Caller(p)
       /\ \/ Fail("create_domain", p, rc)
          \/ /\ rc = "rcOk"
             /\ domLive' = [domLive EXCEPT ![m] = TRUE]
             /\ domOwner' = [domOwner EXCEPT ![m] = p]
             /\ domAuto' = [domAuto EXCEPT ![m] = FALSE]
             /\ handles' = [handles EXCEPT ![p][h] = [kind |-> "Domain", obj |-> m, revoked |-> FALSE]]
             /\ Record("create_domain", p, rc)
             /\ UNCHANGED <<status, autoDom, attachedOnce, devs, bufVars, hwVars>>

\* The shared checks of the two ...Domain calls; "skip" = IOMMU disabled, rcOk with no effect.
DomainCallRc(p, d, h) ==
    LET r == Resolve(p, h, {"Domain"})
    IN IF r # "rcOk" THEN r
       ELSE IF ~IommuEnabled THEN "skip"
       ELSE IF d \notin Devices THEN "rcDeviceNotFound"
       ELSE "rcOk"

AttachDeviceToDomain(p, d, h) ==
    LET pre == DomainCallRc(p, d, h)
        m == Obj(p, h)
        rc == IF pre = "skip" THEN "rcOk"
              ELSE IF pre # "rcOk" THEN pre
              ELSE IF d \in devs[m] THEN "rcAlreadyExists"
              ELSE IF Attachment(d) # None THEN "rcBusy"
              ELSE "rcOk"
    IN /\ Caller(p)
       /\ \/ Fail("attach_device_to_domain", p, rc)
          \/ /\ pre = "skip"
             /\ Record("attach_device_to_domain", p, "rcOk")
             /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>
          \/ /\ pre = "rcOk" /\ rc = "rcOk"
             /\ devs' = [devs EXCEPT ![m] = @ \cup {d}]
             /\ hwCtx' = hwCtx \cup {<<d, m>>}
             /\ Record("attach_device_to_domain", p, rc)
             /\ UNCHANGED <<procVars, domLive, domOwner, domAuto, bufVars, hwMap, staleCtx,
                            staleMap, busy>>

DetachDeviceFromDomain(p, d, h) ==
    LET pre == DomainCallRc(p, d, h)
        m == Obj(p, h)
        rc == IF pre = "skip" THEN "rcOk"
              ELSE IF pre # "rcOk" THEN pre
              ELSE IF d \notin devs[m] THEN "rcResourceNotFound"
              ELSE "rcOk"
    IN /\ Caller(p)
       /\ \/ Fail("detach_device_from_domain", p, rc)
          \/ /\ pre = "skip"
             /\ Record("detach_device_from_domain", p, "rcOk")
             /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>
          \/ /\ pre = "rcOk" /\ rc = "rcOk"
             /\ devs' = [devs EXCEPT ![m] = @ \ {d}]
             /\ Revoke(p, {<<d, m>>}, {})
             /\ Record("detach_device_from_domain", p, rc)
             /\ UNCHANGED <<procVars, domLive, domOwner, domAuto, bufVars>>

(***************************************************************************)
(* DMA buffers, mappings, grants                                           *)
(***************************************************************************)
\* KnIoDmaCreate / KnIoDmaCreateContinuous with valid arguments: a footprint and a direction
\* (pages abstract blocks: a continuous buffer is one block covering the same pages).
DmaCreateCall(name, p, pages, dir) ==
    LET rc == IF FreeBufIds = {} \/ FreeHandle(p) = None THEN "rcOutOfMemory" ELSE "rcOk"
        b == CHOOSE x \in FreeBufIds : TRUE
        h == FreeHandle(p)
    IN /\ Caller(p)
       /\ \/ Fail(name, p, rc)
          \/ /\ rc = "rcOk"
             /\ bufCreator' = [bufCreator EXCEPT ![b] = p]
             /\ bufPages' = [bufPages EXCEPT ![b] = pages]
             /\ bufDir' = [bufDir EXCEPT ![b] = dir]
             /\ handles' = [handles EXCEPT ![p][h] = [kind |-> "Buffer", obj |-> b, revoked |-> FALSE]]
             /\ Record(name, p, rc)
             /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, grant, mapping, hwVars>>

DmaCreate(p, pages, dir) == DmaCreateCall("dma_create", p, pages, dir)
DmaCreateContinuous(p, pages, dir) == DmaCreateCall("dma_create_continuous", p, pages, dir)

DmaMap(p, h) ==
    LET r == Resolve(p, h, {"Buffer"})
        rc == IF r # "rcOk" THEN r
              ELSE IF FreeMapIds = {} \/ FreeHandle(p) = None THEN "rcOutOfMemory" ELSE "rcOk"
        x == CHOOSE y \in FreeMapIds : TRUE
        k == FreeHandle(p)
    IN /\ Caller(p)
       /\ \/ Fail("dma_map", p, rc)
          \/ /\ rc = "rcOk"
             /\ mapping' = [mapping EXCEPT ![x] = Obj(p, h)]
             /\ handles' = [handles EXCEPT ![p][k] = [kind |-> "Mapping", obj |-> x, revoked |-> FALSE]]
             /\ Record("dma_map", p, rc)
             /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufCreator, bufPages, bufDir,
                            grant, hwVars>>

\* Checks 4-6 of KnIoDmaBegin / KnIoDmaBeginEx for buffer b in domain m (None: IOMMU disabled).
\* The IOVA is the implementation's choice among the legal ones.
BeginRc(p, b, m) ==
    IF \E g \in LiveGrants : grant[g].buf = b /\ grant[g].dom = m THEN "rcAlreadyExists"
    ELSE IF FreeGrantIds = {} \/ FreeHandle(p) = None THEN "rcOutOfMemory"
    ELSE IF m # None /\ IommuEnabled /\ ValidIovaPages(m, bufPages[b]) = {} THEN "rcOutOfMemory"
    ELSE "rcOk"

NewGrant(name, p, b, m) ==
    LET g == CHOOSE x \in FreeGrantIds : TRUE
        h == FreeHandle(p)
        translated == m # None /\ IommuEnabled  \* else IOVA = physical address, no translation
    IN \E v \in (IF translated THEN ValidIovaPages(m, bufPages[b]) ELSE {0}) :
          /\ grant' = [grant EXCEPT ![g] = [buf |-> b, dom |-> m, iovaPage |-> v]]
          /\ handles' = [handles EXCEPT ![p][h] = [kind |-> "Grant", obj |-> g, revoked |-> FALSE]]
          \* Granting takes effect at once (with CM=1 after an invalidation inside the call).
          /\ hwMap' = IF ~translated THEN hwMap
                      ELSE hwMap \cup {<<m, v + i, b, i, bufDir[b]>> : i \in 0..(bufPages[b] - 1)}
          /\ Record(name, p, "rcOk")
          /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufCreator, bufPages, bufDir,
                         mapping, hwCtx, staleCtx, staleMap, busy>>

DmaBegin(p, h) ==
    LET r == Resolve(p, h, {"Buffer"})
        m == IF IommuEnabled THEN autoDom[p] ELSE None
        rc == IF r # "rcOk" THEN r
              ELSE IF IommuEnabled /\ autoDom[p] = None THEN "rcResourceNotFound"
              ELSE BeginRc(p, Obj(p, h), m)
    IN /\ Caller(p)
       /\ \/ Fail("dma_begin", p, rc)
          \/ rc = "rcOk" /\ NewGrant("dma_begin", p, Obj(p, h), m)

DmaBeginEx(p, h, hd) ==
    LET r == Resolve(p, h, {"Buffer"})
        rd == Resolve(p, hd, {"Domain"})
        rc == IF r # "rcOk" THEN r
              ELSE IF rd # "rcOk" THEN rd
              ELSE BeginRc(p, Obj(p, h), Obj(p, hd))
    IN /\ Caller(p)
       /\ \/ Fail("dma_begin_ex", p, rc)
          \/ rc = "rcOk" /\ NewGrant("dma_begin_ex", p, Obj(p, h), Obj(p, hd))

\* KnIoDmaGetInfo / KnIoDmaGetPhysInfo: read-only; count = DmaInfo.count in blocks, here pages.
DmaGetInfoCall(p, h, phys) ==
    LET r == Resolve(p, h, {"Buffer", "Grant"})
        e == handles[p][h]
        b == IF r = "rcOk" /\ e.kind = "Grant" THEN grant[e.obj].buf ELSE Obj(p, h)
        visible == \/ phys \/ ~IommuEnabled \/ e.kind = "Grant"
                   \/ autoDom[p] # None /\ \E g \in LiveGrants : grant[g].buf = b /\ grant[g].dom = autoDom[p]
    IN /\ Caller(p)
       /\ lastCall' = [name |-> IF phys THEN "dma_get_phys_info" ELSE "dma_get_info", pid |-> p,
                       rc |-> r, count |-> IF r = "rcOk" /\ visible THEN bufPages[b] ELSE 0]
       /\ lastDma' = None
       /\ UNCHANGED <<procVars, domVars, bufVars, hwVars>>

DmaGetInfo(p, h) == DmaGetInfoCall(p, h, FALSE)
DmaGetPhysInfo(p, h) == DmaGetInfoCall(p, h, TRUE)

(***************************************************************************)
(* KnHandleClose / KnIoClose (the same call)                               *)
(***************************************************************************)
HandleClose(p, h) ==
    LET e == handles[p][h]
        hs == [handles EXCEPT ![p][h] = None]
    IN /\ Caller(p)
       /\ \/ Fail("handle_close", p, IF h \notin HandleVals \/ e = None THEN "rcInvalidArgument" ELSE "rcOk")
          \* A revoked handle: only the slot is freed.
          \/ /\ h \in HandleVals /\ e # None /\ e.revoked
             /\ handles' = hs
             /\ Record("handle_close", p, "rcOk")
             /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufVars, hwVars>>
          \/ /\ h \in HandleVals /\ e # None /\ ~e.revoked /\ e.kind \in {"Buffer", "Mapping"}
             /\ handles' = hs
             /\ mapping' = IF e.kind = "Mapping" THEN [mapping EXCEPT ![e.obj] = None] ELSE mapping
             /\ bufCreator' = Collect(hs, grant, mapping', hwMap)
             /\ Record("handle_close", p, "rcOk")
             /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufPages, bufDir, grant, hwVars>>
          \* Closing a grant: its translations become stale until Invalidate.
          \/ /\ h \in HandleVals /\ e # None /\ ~e.revoked /\ e.kind = "Grant"
             /\ handles' = hs
             /\ grant' = [grant EXCEPT ![e.obj] = None]
             /\ bufCreator' = Collect(hs, grant', mapping, hwMap)
             /\ Revoke(p, {}, IF SeededBug THEN {}
                             ELSE {x \in hwMap : x[1] = grant[e.obj].dom /\ x[3] = grant[e.obj].buf})
             /\ Record("handle_close", p, "rcOk")
             /\ UNCHANGED <<status, autoDom, attachedOnce, domVars, bufPages, bufDir, mapping>>
          \* Closing a created domain: detach its devices, remove and revoke its grants.
          \/ /\ h \in HandleVals /\ e # None /\ ~e.revoked /\ e.kind = "Domain"
             /\ LET m == e.obj
                    gone == {g \in LiveGrants : grant[g].dom = m}
                IN /\ handles' = [q \in Pids |-> [k \in HandleVals |->
                                    IF q = p /\ k = h THEN None
                                    ELSE IF handles[q][k] # None /\ handles[q][k].kind = "Grant" /\ handles[q][k].obj \in gone
                                         THEN [handles[q][k] EXCEPT !.revoked = TRUE]
                                         ELSE handles[q][k]]]
                   /\ grant' = [g \in GrantIds |-> IF g \in gone THEN None ELSE grant[g]]
                   /\ bufCreator' = Collect(handles', grant', mapping, hwMap)
                   /\ domLive' = [domLive EXCEPT ![m] = FALSE]
                   /\ devs' = [devs EXCEPT ![m] = {}]
                   /\ Revoke(p, {x \in hwCtx : x[2] = m}, {x \in hwMap : x[1] = m})
             /\ Record("handle_close", p, "rcOk")
             /\ UNCHANGED <<status, autoDom, attachedOnce, domOwner, domAuto, bufPages, bufDir,
                            mapping>>

(***************************************************************************)
(* A device DMA of one page: succeeds iff the hardware view allows it.     *)
(***************************************************************************)
Dma(d, v, dir) ==
    LET hits == {e \in hwMap : <<d, e[1]>> \in hwCtx /\ e[2] = v /\ dir \in e[5]}
        reason == IF ~\E c \in hwCtx : c[1] = d THEN 2
                  ELSE IF v >= IovaPages THEN 4
                  ELSE IF dir = "R" THEN 6
                  ELSE 5
    IN /\ \/ /\ ~IommuEnabled
             /\ lastDma' = [dev |-> d, iovaPage |-> v, dir |-> dir, ok |-> TRUE, fault |-> 0,
                            dom |-> None, buf |-> None, pg |-> 0, untranslated |-> TRUE]
          \/ /\ IommuEnabled
             /\ \E e \in hits :
                   lastDma' = [dev |-> d, iovaPage |-> v, dir |-> dir, ok |-> TRUE, fault |-> 0,
                               dom |-> e[1], buf |-> e[3], pg |-> e[4], untranslated |-> FALSE]
          \/ /\ IommuEnabled /\ hits = {}
             /\ lastDma' = [dev |-> d, iovaPage |-> v, dir |-> dir, ok |-> FALSE, fault |-> reason,
                            dom |-> None, buf |-> None, pg |-> 0, untranslated |-> FALSE]
       /\ UNCHANGED <<procVars, domVars, bufVars, hwVars, lastCall>>

(***************************************************************************)
(* The system                                                              *)
(***************************************************************************)
AnyDevice == Devices \cup UnknownDevices

Next ==
    \/ \E p \in Pids : ProcessCreate(p) \/ ProcessExit(p) \/ Invalidate(p) \/ CreateDomain(p)
    \/ \E p \in Pids, d \in AnyDevice : AttachDevice(p, d) \/ DetachDevice(p, d)
    \/ \E p \in Pids, d \in AnyDevice, h \in HandleArgs :
          AttachDeviceToDomain(p, d, h) \/ DetachDeviceFromDomain(p, d, h)
    \/ \E p \in Pids, n \in 1..MaxPages, dir \in DirSets :
          DmaCreate(p, n, dir) \/ DmaCreateContinuous(p, n, dir)
    \/ \E p \in Pids, h \in HandleArgs :
          DmaMap(p, h) \/ DmaBegin(p, h) \/ HandleClose(p, h) \/ DmaGetInfo(p, h)
          \/ DmaGetPhysInfo(p, h)
    \/ \E p \in Pids, h \in HandleArgs, hd \in HandleArgs : DmaBeginEx(p, h, hd)
    \/ \E d \in Devices, v \in 0..IovaPages, dir \in {"R", "W"} : Dma(d, v, dir)

Spec == Init /\ [][Next]_vars

(***************************************************************************)
(* Invariants (spec/README.md says each in one sentence; model/invariants.cpp *)
(* checks the same names on the model's state).                            *)
(***************************************************************************)
TypeOK ==
    /\ status \in [Pids -> {"unborn", "alive", "exited"}]
    /\ handles \in [Pids -> [HandleVals -> Entries \cup {None}]]
    /\ autoDom \in [Pids -> Dids \cup {None}]
    /\ attachedOnce \in [Pids -> BOOLEAN]
    /\ domLive \in [Dids -> BOOLEAN] /\ domAuto \in [Dids -> BOOLEAN]
    /\ domOwner \in [Dids -> Pids \cup {None}]
    /\ devs \in [Dids -> SUBSET Devices]
    /\ bufCreator \in [BufIds -> Pids \cup {None}]
    /\ bufPages \in [BufIds -> 1..MaxPages] /\ bufDir \in [BufIds -> DirSets]
    /\ \A g \in GrantIds : grant[g] = None \/ (grant[g].buf \in BufIds /\ grant[g].iovaPage \in Nat)
    /\ mapping \in [MapIds -> BufIds \cup {None}]
    /\ hwCtx \subseteq Devices \X Dids
    /\ busy \in [Pids -> BOOLEAN]
    /\ lastCall.rc \in Retcodes

\* A device is attached to at most one domain.
AttachmentUnique == \A m1, m2 \in Dids : m1 # m2 => devs[m1] \cap devs[m2] = {}

\* Only devices on the bus are attached, only to live domains, only with the IOMMU enabled.
AttachmentValid == \A m \in Dids : devs[m] # {} => domLive[m] /\ IommuEnabled

\* Every live domain has exactly one owner, a live process; it is automatic iff it is the
\* owner's automatic domain.
DomainOwner ==
    \A m \in LiveDoms : /\ domOwner[m] \in Pids
                        /\ status[domOwner[m]] = "alive"
                        /\ domAuto[m] = (autoDom[domOwner[m]] = m)

\* A process has at most one automatic domain.
AutoDomainUnique ==
    \A p \in Pids : Cardinality({m \in LiveDoms : domAuto[m] /\ domOwner[m] = p}) <= 1

\* The automatic domain exists exactly from the first successful attach until exit.
AutoDomainLifetime ==
    \A p \in Pids : (autoDom[p] # None /\ domLive[autoDom[p]]) <=> (status[p] = "alive" /\ attachedOnce[p])

\* No more domains are live than there are DIDs, and a dead domain keeps nothing attached.
DomainCapacity == Cardinality(LiveDoms) <= Cardinality(Dids) /\ \A m \in Dids \ LiveDoms : devs[m] = {}

\* Every unrevoked handle names a live object of its kind (domain handles: a created domain);
\* a revoked handle is a grant handle whose grant is gone.
HandleRefsLive ==
    \A p \in Pids, h \in HandleVals :
        LET e == handles[p][h] IN
        e # None =>
            IF e.revoked THEN e.kind = "Grant" /\ grant[e.obj] = None
            ELSE CASE e.kind = "Domain" -> domLive[e.obj] /\ ~domAuto[e.obj] /\ domOwner[e.obj] = p
                   [] e.kind = "Buffer" -> bufCreator[e.obj] = p
                   [] e.kind = "Grant" -> grant[e.obj] # None
                   [] OTHER -> mapping[e.obj] # None

\* Grants and mappings reference live buffers, grants live domains (no domain only with the
\* IOMMU disabled).
GrantRefsLive ==
    /\ \A g \in LiveGrants : /\ bufCreator[grant[g].buf] # None
                             /\ IF grant[g].dom = None THEN ~IommuEnabled ELSE domLive[grant[g].dom]
    /\ \A x \in MapIds : mapping[x] # None => bufCreator[mapping[x]] # None

\* In one domain, a buffer has at most one grant and grants' IOVA ranges do not overlap
\* (with the IOMMU disabled IOVAs are physical addresses: nothing to check).
GrantsDisjoint ==
    IommuEnabled => \A g1, g2 \in LiveGrants :
        (g1 # g2 /\ grant[g1].dom = grant[g2].dom /\ grant[g1].dom # None) =>
            grant[g1].buf # grant[g2].buf /\ Footprint(g1) \cap Footprint(g2) = {}

\* Every grant lies below 2^address_width.
GrantInRange ==
    IommuEnabled => \A g \in LiveGrants : grant[g].iovaPage + bufPages[grant[g].buf] <= IovaPages

\* No leak: an allocated buffer is referenced by a handle, a grant, a mapping or a translation
\* the hardware may still use.
BufferReferenced == \A b \in BufIds : bufCreator[b] # None => BufRefd(b, handles, grant, mapping, hwMap)

\* A successful DMA reaches a page of an allocated buffer, in a permitted direction, through a
\* domain the buffer's creator owns, and the device/domain and buffer/domain pairs are associated
\* in the API state or being revoked by a call that has not returned yet.
Isolation ==
    (lastDma # None /\ lastDma.ok /\ ~lastDma.untranslated) =>
        LET m == lastDma.dom
            b == lastDma.buf
        IN /\ bufCreator[b] # None
           /\ lastDma.dir \in bufDir[b]
           /\ lastDma.pg < bufPages[b]
           /\ bufCreator[b] = domOwner[m]
           /\ <<lastDma.dev, m>> \in ApiCtx \cup StaleCtx
           /\ \E e \in ApiMap \cup StaleMap : e[1] = m /\ e[2] = lastDma.iovaPage /\ e[3] = b

\* The hardware can use nothing the API state does not allow, except what a call still in
\* flight is revoking: once a detach, grant close, domain close or exit has returned, no DMA
\* through what it removed succeeds.
NoStaleAccess ==
    /\ hwCtx \ ApiCtx \subseteq StaleCtx
    /\ hwMap \ ApiMap \subseteq StaleMap
    /\ \A p \in Pids : ~busy[p] => staleCtx[p] = {} /\ staleMap[p] = {}

\* Every live grant is named by exactly one unrevoked handle of a live process, every live created
\* domain by exactly one, and a revoked handle names no live grant: closing that handle (or the
\* process's exit) is the one way to revoke the object, so nothing revocable is left unnamed.
\* (model/invariants.cpp and proofs/abstract_state.cpp check it under the same name.)
NamedBy(kind, o) == {<<p, h>> \in Pids \X HandleVals :
                        /\ status[p] = "alive" /\ handles[p][h] # None
                        /\ handles[p][h].kind = kind /\ handles[p][h].obj = o /\ ~handles[p][h].revoked}
ObjectNamedOnce ==
    /\ \A g \in LiveGrants : Cardinality(NamedBy("Grant", g)) = 1
    /\ \A m \in LiveDoms : ~domAuto[m] => Cardinality(NamedBy("Domain", m)) = 1
    /\ \A p \in Pids, h \in HandleVals :
          (handles[p][h] # None /\ handles[p][h].revoked) => grant[handles[p][h].obj] = None

\* Granting takes effect at once: the hardware view contains the API view.
HwCoversApi == ApiCtx \subseteq hwCtx /\ ApiMap \subseteq hwMap

\* Once its exit has returned, nothing of a process is reachable: no handles, no live domain,
\* no allocated buffer, no context entry or translation into its domains or buffers.
ExitedUnreachable ==
    \A p \in Pids : (status[p] = "exited" /\ ~busy[p]) =>
        /\ \A h \in HandleVals : handles[p][h] = None
        /\ autoDom[p] = None
        /\ \A m \in LiveDoms : domOwner[m] # p
        /\ \A b \in BufIds : bufCreator[b] # p
        /\ \A e \in hwCtx : domOwner[e[2]] # p
        /\ \A e \in hwMap : bufCreator[e[3]] # p

Invariants ==
    /\ TypeOK /\ AttachmentUnique /\ AttachmentValid /\ DomainOwner /\ AutoDomainUnique
    /\ AutoDomainLifetime /\ DomainCapacity /\ HandleRefsLive /\ GrantRefsLive /\ GrantsDisjoint
    /\ GrantInRange /\ BufferReferenced /\ Isolation /\ NoStaleAccess /\ ObjectNamedOnce
    /\ HwCoversApi /\ ExitedUnreachable
=============================================================================
