// The VT-d legacy-mode structures (VT-d spec ch. 9 and §10.4; docs/vtd-facts.md), each described
// once with the layout framework of layout.h. In-memory structures (root, context, second-level
// entries, queued invalidation descriptors) must describe every bit (checked below); registers list
// the fields this project uses plus the reserved ranges the spec defines.
//
// Second-level entries come in four shapes, one layout each: a table (non-leaf) entry, a 4 KiB
// leaf, a 2 MiB leaf and a 1 GiB leaf. Bits whose reservation depends on the configuration (SNP on
// leaves without ECAP.SC, TM without ECAP.DT, address bits at or above HAW, PS where the size is
// unsupported or at level >= 4) are Value fields here; sl_masks.h adds them per configuration.
#pragma once

#include "vtd/layout.h"

// Layout field name literal. Local to this header and the typed wrappers (entries.h, regs.h).
#define KNIOMMU_F(name) BOOST_HANA_STRING(name)

namespace kniommu::vtd {

using layout::field;
using layout::ignored;
using layout::make_layout;
using layout::reserved;

// The layout tables stay one field per line, in bit order, so each can be read against the spec.
// clang-format off
// ---- Root entry (128-bit, legacy): VT-d spec §9.1 ------------------------------------------
inline constexpr auto kRootEntry = make_layout<2>(
    field<0, 0, 1>(KNIOMMU_F("P")),
    reserved<0, 1, 11>(KNIOMMU_F("RSVD_LO")),
    field<0, 12, 52>(KNIOMMU_F("CTP")),
    reserved<1, 0, 64>(KNIOMMU_F("RSVD_HI")));

// ---- Context entry (128-bit, legacy): VT-d spec §9.3 ---------------------------------------
inline constexpr auto kContextEntry = make_layout<2>(
    field<0, 0, 1>(KNIOMMU_F("P")),
    field<0, 1, 1>(KNIOMMU_F("FPD")),
    field<0, 2, 2>(KNIOMMU_F("TT")),
    reserved<0, 4, 8>(KNIOMMU_F("RSVD_LO")),
    field<0, 12, 52>(KNIOMMU_F("SLPTPTR")),
    field<1, 0, 3>(KNIOMMU_F("AW")),
    ignored<1, 3, 4>(KNIOMMU_F("AVAIL")),
    reserved<1, 7, 1>(KNIOMMU_F("RSVD_HI7")),
    field<1, 8, 16>(KNIOMMU_F("DID")),
    reserved<1, 24, 40>(KNIOMMU_F("RSVD_HI")));

// Context-entry TT values.
enum class TranslationType : std::uint64_t { kUntranslated = 0, kDeviceTlb = 1, kPassThrough = 2 };

// ---- Second-level paging entries: VT-d spec §9.8 ----------------------------------------------
// Bits common to all four shapes, ignored in legacy mode: X (only with SLEE), EMT/IPAT (only with
// EMTE), A/D (only with SLADE), bit 10, 61:52, 63.
// Table entry (SL-PDE with PS=0, SL-PDPE with PS=0, SL-PML4E, SL-PML5E). SNP and TM are reserved
// on non-leaf entries regardless of capabilities (QEMU VTD_SPTE_PAGE_L{2,3,4}_RSVD_MASK).
inline constexpr auto kSlTableEntry = make_layout<1>(
    field<0, 0, 1>(KNIOMMU_F("R")),
    field<0, 1, 1>(KNIOMMU_F("W")),
    ignored<0, 2, 1>(KNIOMMU_F("X")),
    ignored<0, 3, 3>(KNIOMMU_F("EMT")),
    ignored<0, 6, 1>(KNIOMMU_F("IPAT")),
    field<0, 7, 1>(KNIOMMU_F("PS")),
    ignored<0, 8, 1>(KNIOMMU_F("A")),
    ignored<0, 9, 2>(KNIOMMU_F("IGN9")),
    reserved<0, 11, 1>(KNIOMMU_F("SNP")),
    field<0, 12, 40>(KNIOMMU_F("ADDR")),
    ignored<0, 52, 10>(KNIOMMU_F("IGN52")),
    reserved<0, 62, 1>(KNIOMMU_F("TM")),
    ignored<0, 63, 1>(KNIOMMU_F("IGN63")));

// 4 KiB leaf (SL-PTE). PS (bit 7) is ignored here.
inline constexpr auto kSlPte4K = make_layout<1>(
    field<0, 0, 1>(KNIOMMU_F("R")),
    field<0, 1, 1>(KNIOMMU_F("W")),
    ignored<0, 2, 1>(KNIOMMU_F("X")),
    ignored<0, 3, 3>(KNIOMMU_F("EMT")),
    ignored<0, 6, 1>(KNIOMMU_F("IPAT")),
    ignored<0, 7, 1>(KNIOMMU_F("PS")),
    ignored<0, 8, 1>(KNIOMMU_F("A")),
    ignored<0, 9, 1>(KNIOMMU_F("D")),
    ignored<0, 10, 1>(KNIOMMU_F("IGN10")),
    field<0, 11, 1>(KNIOMMU_F("SNP")),
    field<0, 12, 40>(KNIOMMU_F("ADDR")),
    ignored<0, 52, 10>(KNIOMMU_F("IGN52")),
    field<0, 62, 1>(KNIOMMU_F("TM")),
    ignored<0, 63, 1>(KNIOMMU_F("IGN63")));

// Superpage leaves: PS=1 and the frame address starts at bit 21 (2 MiB) or 30 (1 GiB); the bits
// between 12 and the frame are reserved (QEMU VTD_SPTE_LPAGE_L{2,3}_RSVD_MASK).
template <unsigned AddrLo>
constexpr auto sl_superpage_layout() {
  return make_layout<1>(
      field<0, 0, 1>(KNIOMMU_F("R")),
      field<0, 1, 1>(KNIOMMU_F("W")),
      ignored<0, 2, 1>(KNIOMMU_F("X")),
      ignored<0, 3, 3>(KNIOMMU_F("EMT")),
      ignored<0, 6, 1>(KNIOMMU_F("IPAT")),
      field<0, 7, 1>(KNIOMMU_F("PS")),
      ignored<0, 8, 1>(KNIOMMU_F("A")),
      ignored<0, 9, 1>(KNIOMMU_F("D")),
      ignored<0, 10, 1>(KNIOMMU_F("IGN10")),
      field<0, 11, 1>(KNIOMMU_F("SNP")),
      reserved<0, 12, AddrLo - 12>(KNIOMMU_F("RSVD_ADDR")),
      field<0, AddrLo, 52 - AddrLo>(KNIOMMU_F("ADDR")),
      ignored<0, 52, 10>(KNIOMMU_F("IGN52")),
      field<0, 62, 1>(KNIOMMU_F("TM")),
      ignored<0, 63, 1>(KNIOMMU_F("IGN63")));
}
inline constexpr auto kSlPte2M = sl_superpage_layout<21>();
inline constexpr auto kSlPte1G = sl_superpage_layout<30>();

// ---- Queued-invalidation descriptors (128-bit legacy): VT-d spec §6.5.2 -------------------------
// Bits 11:9 are the type-hi extension of newer specs; zero for these legacy types, so reserved.
inline constexpr std::uint64_t kDescContextCache = 0x1;
inline constexpr std::uint64_t kDescIotlb = 0x2;
inline constexpr std::uint64_t kDescWait = 0x5;

inline constexpr auto kContextCacheDesc = make_layout<2>(
    field<0, 0, 4>(KNIOMMU_F("TYPE")),
    field<0, 4, 2>(KNIOMMU_F("G")),
    reserved<0, 6, 10>(KNIOMMU_F("RSVD_LO6")),
    field<0, 16, 16>(KNIOMMU_F("DID")),
    field<0, 32, 16>(KNIOMMU_F("SID")),
    field<0, 48, 2>(KNIOMMU_F("FM")),
    reserved<0, 50, 14>(KNIOMMU_F("RSVD_LO50")),
    reserved<1, 0, 64>(KNIOMMU_F("RSVD_HI")));

inline constexpr auto kIotlbDesc = make_layout<2>(
    field<0, 0, 4>(KNIOMMU_F("TYPE")),
    field<0, 4, 2>(KNIOMMU_F("G")),
    field<0, 6, 1>(KNIOMMU_F("DW")),
    field<0, 7, 1>(KNIOMMU_F("DR")),
    reserved<0, 8, 8>(KNIOMMU_F("RSVD_LO8")),
    field<0, 16, 16>(KNIOMMU_F("DID")),
    reserved<0, 32, 32>(KNIOMMU_F("RSVD_LO32")),
    field<1, 0, 6>(KNIOMMU_F("AM")),
    field<1, 6, 1>(KNIOMMU_F("IH")),
    reserved<1, 7, 5>(KNIOMMU_F("RSVD_HI7")),
    field<1, 12, 52>(KNIOMMU_F("ADDR")));

inline constexpr auto kWaitDesc = make_layout<2>(
    field<0, 0, 4>(KNIOMMU_F("TYPE")),
    field<0, 4, 1>(KNIOMMU_F("IF")),
    field<0, 5, 1>(KNIOMMU_F("SW")),
    field<0, 6, 1>(KNIOMMU_F("FN")),
    field<0, 7, 1>(KNIOMMU_F("PD")),
    reserved<0, 8, 24>(KNIOMMU_F("RSVD_LO8")),
    field<0, 32, 32>(KNIOMMU_F("SDATA")),
    reserved<1, 0, 2>(KNIOMMU_F("RSVD_HI")),
    field<1, 2, 62>(KNIOMMU_F("SADDR")));

// Granularity values (G of the descriptors, CIRG/CAIG of CCMD, IIRG/IAIG of the IOTLB register).
enum class Granularity : std::uint64_t { kGlobal = 1, kDomain = 2, kDeviceOrPage = 3 };

static_assert(decltype(kRootEntry)::fully_described(), "root entry: every bit needs a field");
static_assert(decltype(kContextEntry)::fully_described(), "context entry: every bit needs a field");
static_assert(decltype(kSlTableEntry)::fully_described(), "SL table entry: every bit needs a field");
static_assert(decltype(kSlPte4K)::fully_described(), "SL 4K PTE: every bit needs a field");
static_assert(decltype(kSlPte2M)::fully_described(), "SL 2M PTE: every bit needs a field");
static_assert(decltype(kSlPte1G)::fully_described(), "SL 1G PTE: every bit needs a field");
static_assert(decltype(kContextCacheDesc)::fully_described(), "cc descriptor: every bit needs a field");
static_assert(decltype(kIotlbDesc)::fully_described(), "IOTLB descriptor: every bit needs a field");
static_assert(decltype(kWaitDesc)::fully_described(), "wait descriptor: every bit needs a field");

// ---- Registers: VT-d spec §10.4 -----------------------------------------------------------------
// 32-bit registers use word 0 with fields below bit 32.
inline constexpr std::uint32_t kRegVer = 0x000;
inline constexpr std::uint32_t kRegCap = 0x008;
inline constexpr std::uint32_t kRegEcap = 0x010;
inline constexpr std::uint32_t kRegGcmd = 0x018;
inline constexpr std::uint32_t kRegGsts = 0x01C;
inline constexpr std::uint32_t kRegRtaddr = 0x020;
inline constexpr std::uint32_t kRegCcmd = 0x028;
inline constexpr std::uint32_t kRegFsts = 0x034;
inline constexpr std::uint32_t kRegFectl = 0x038;
inline constexpr std::uint32_t kRegFedata = 0x03C;
inline constexpr std::uint32_t kRegFeaddr = 0x040;
inline constexpr std::uint32_t kRegFeuaddr = 0x044;
inline constexpr std::uint32_t kRegIqh = 0x080;
inline constexpr std::uint32_t kRegIqt = 0x088;
inline constexpr std::uint32_t kRegIqa = 0x090;
inline constexpr std::uint32_t kRegIcs = 0x09C;
inline constexpr std::uint32_t kRegIqercd = 0x0B0;
// IVA is at ECAP.IRO*16, the IOTLB register 8 bytes after it; FRCD[i] at CAP.FRO*16 + 16*i.
inline constexpr std::uint32_t kIotlbRegFromIva = 0x8;
inline constexpr std::uint32_t kFrcdStride = 0x10;

inline constexpr auto kVerReg = make_layout<1>(
    field<0, 0, 4>(KNIOMMU_F("MIN")),
    field<0, 4, 4>(KNIOMMU_F("MAX")),
    reserved<0, 8, 56>(KNIOMMU_F("RSVD")));

inline constexpr auto kCapReg = make_layout<1>(
    field<0, 0, 3>(KNIOMMU_F("ND")),
    field<0, 3, 1>(KNIOMMU_F("AFL")),
    field<0, 4, 1>(KNIOMMU_F("RWBF")),
    field<0, 5, 1>(KNIOMMU_F("PLMR")),
    field<0, 6, 1>(KNIOMMU_F("PHMR")),
    field<0, 7, 1>(KNIOMMU_F("CM")),
    field<0, 8, 5>(KNIOMMU_F("SAGAW")),
    reserved<0, 13, 3>(KNIOMMU_F("RSVD13")),
    field<0, 16, 6>(KNIOMMU_F("MGAW")),
    field<0, 22, 1>(KNIOMMU_F("ZLR")),
    ignored<0, 23, 1>(KNIOMMU_F("ISOCH")),
    field<0, 24, 10>(KNIOMMU_F("FRO")),
    field<0, 34, 4>(KNIOMMU_F("SLLPS")),
    reserved<0, 38, 1>(KNIOMMU_F("RSVD38")),
    field<0, 39, 1>(KNIOMMU_F("PSI")),
    field<0, 40, 8>(KNIOMMU_F("NFR")),
    field<0, 48, 6>(KNIOMMU_F("MAMV")),
    field<0, 54, 1>(KNIOMMU_F("DWD")),
    field<0, 55, 1>(KNIOMMU_F("DRD")),
    field<0, 56, 1>(KNIOMMU_F("FL1GP")),
    reserved<0, 57, 2>(KNIOMMU_F("RSVD57")),
    field<0, 59, 1>(KNIOMMU_F("PI")),
    field<0, 60, 1>(KNIOMMU_F("FL5LP")),
    reserved<0, 61, 1>(KNIOMMU_F("RSVD61")),
    field<0, 62, 1>(KNIOMMU_F("ESIRTPS")),
    field<0, 63, 1>(KNIOMMU_F("ESRTPS")));

inline constexpr auto kEcapReg = make_layout<1>(
    field<0, 0, 1>(KNIOMMU_F("C")),
    field<0, 1, 1>(KNIOMMU_F("QI")),
    field<0, 2, 1>(KNIOMMU_F("DT")),
    field<0, 3, 1>(KNIOMMU_F("IR")),
    field<0, 4, 1>(KNIOMMU_F("EIM")),
    ignored<0, 5, 1>(KNIOMMU_F("CH")),
    field<0, 6, 1>(KNIOMMU_F("PT")),
    field<0, 7, 1>(KNIOMMU_F("SC")),
    field<0, 8, 10>(KNIOMMU_F("IRO")),
    reserved<0, 18, 2>(KNIOMMU_F("RSVD18")),
    field<0, 20, 4>(KNIOMMU_F("MHMV")),
    ignored<0, 24, 1>(KNIOMMU_F("ECS")),
    field<0, 25, 1>(KNIOMMU_F("MTS")),
    field<0, 26, 1>(KNIOMMU_F("NEST")),
    reserved<0, 27, 2>(KNIOMMU_F("RSVD27")),
    field<0, 29, 1>(KNIOMMU_F("PRS")),
    field<0, 30, 1>(KNIOMMU_F("ERS")),
    field<0, 31, 1>(KNIOMMU_F("SRS")),
    reserved<0, 32, 3>(KNIOMMU_F("RSVD32")),
    field<0, 35, 5>(KNIOMMU_F("PSS")),
    field<0, 40, 1>(KNIOMMU_F("PASID")),
    field<0, 41, 1>(KNIOMMU_F("DIT")),
    field<0, 42, 1>(KNIOMMU_F("PDS")),
    field<0, 43, 1>(KNIOMMU_F("SMTS")),
    field<0, 44, 1>(KNIOMMU_F("VCS")),
    field<0, 45, 1>(KNIOMMU_F("SLADS")),
    field<0, 46, 1>(KNIOMMU_F("SLTS")),
    field<0, 47, 1>(KNIOMMU_F("FLTS")),
    field<0, 48, 1>(KNIOMMU_F("SMPWCS")),
    field<0, 49, 1>(KNIOMMU_F("RPS")),
    reserved<0, 50, 2>(KNIOMMU_F("RSVD50")),
    field<0, 52, 1>(KNIOMMU_F("ADMS")),
    field<0, 53, 1>(KNIOMMU_F("RPRIVS")),
    reserved<0, 54, 10>(KNIOMMU_F("RSVD54")));

// GCMD (write-only commands) and GSTS (status mirrors): same bit numbers.
inline constexpr auto kGcmdReg = make_layout<1>(
    reserved<0, 0, 23>(KNIOMMU_F("RSVD")),
    field<0, 23, 1>(KNIOMMU_F("CFI")),
    field<0, 24, 1>(KNIOMMU_F("SIRTP")),
    field<0, 25, 1>(KNIOMMU_F("IRE")),
    field<0, 26, 1>(KNIOMMU_F("QIE")),
    field<0, 27, 1>(KNIOMMU_F("WBF")),
    field<0, 28, 1>(KNIOMMU_F("EAFL")),
    field<0, 29, 1>(KNIOMMU_F("SFL")),
    field<0, 30, 1>(KNIOMMU_F("SRTP")),
    field<0, 31, 1>(KNIOMMU_F("TE")));
inline constexpr auto kGstsReg = make_layout<1>(
    reserved<0, 0, 23>(KNIOMMU_F("RSVD")),
    field<0, 23, 1>(KNIOMMU_F("CFIS")),
    field<0, 24, 1>(KNIOMMU_F("IRTPS")),
    field<0, 25, 1>(KNIOMMU_F("IRES")),
    field<0, 26, 1>(KNIOMMU_F("QIES")),
    field<0, 27, 1>(KNIOMMU_F("WBFS")),
    field<0, 28, 1>(KNIOMMU_F("AFLS")),
    field<0, 29, 1>(KNIOMMU_F("FLS")),
    field<0, 30, 1>(KNIOMMU_F("RTPS")),
    field<0, 31, 1>(KNIOMMU_F("TES")));

inline constexpr auto kRtaddrReg = make_layout<1>(
    reserved<0, 0, 10>(KNIOMMU_F("RSVD")),
    field<0, 10, 2>(KNIOMMU_F("TTM")),
    field<0, 12, 52>(KNIOMMU_F("RTA")));

inline constexpr auto kCcmdReg = make_layout<1>(
    field<0, 0, 16>(KNIOMMU_F("DID")),
    field<0, 16, 16>(KNIOMMU_F("SID")),
    field<0, 32, 2>(KNIOMMU_F("FM")),
    reserved<0, 34, 25>(KNIOMMU_F("RSVD")),
    field<0, 59, 2>(KNIOMMU_F("CAIG")),
    field<0, 61, 2>(KNIOMMU_F("CIRG")),
    field<0, 63, 1>(KNIOMMU_F("ICC")));

inline constexpr auto kFstsReg = make_layout<1>(
    field<0, 0, 1>(KNIOMMU_F("PFO")),
    field<0, 1, 1>(KNIOMMU_F("PPF")),
    field<0, 2, 1>(KNIOMMU_F("AFO")),
    field<0, 3, 1>(KNIOMMU_F("APF")),
    field<0, 4, 1>(KNIOMMU_F("IQE")),
    field<0, 5, 1>(KNIOMMU_F("ICE")),
    field<0, 6, 1>(KNIOMMU_F("ITE")),
    field<0, 7, 1>(KNIOMMU_F("PRO")),
    field<0, 8, 8>(KNIOMMU_F("FRI")),
    reserved<0, 16, 48>(KNIOMMU_F("RSVD")));

inline constexpr auto kFectlReg = make_layout<1>(
    reserved<0, 0, 30>(KNIOMMU_F("RSVD")),
    field<0, 30, 1>(KNIOMMU_F("IP")),
    field<0, 31, 1>(KNIOMMU_F("IM")));

// IQH and IQT share the format (index of a 16-byte slot in bits 18:4).
inline constexpr auto kIqPtrReg = make_layout<1>(
    reserved<0, 0, 4>(KNIOMMU_F("RSVD_LO")),
    field<0, 4, 15>(KNIOMMU_F("QP")),
    reserved<0, 19, 45>(KNIOMMU_F("RSVD_HI")));

inline constexpr auto kIqaReg = make_layout<1>(
    field<0, 0, 3>(KNIOMMU_F("QS")),
    reserved<0, 3, 8>(KNIOMMU_F("RSVD")),
    field<0, 11, 1>(KNIOMMU_F("DW")),
    field<0, 12, 52>(KNIOMMU_F("IQA")));

inline constexpr auto kIcsReg = make_layout<1>(
    field<0, 0, 1>(KNIOMMU_F("IWC")),
    reserved<0, 1, 63>(KNIOMMU_F("RSVD")));

inline constexpr auto kIqercdReg = make_layout<1>(
    field<0, 0, 4>(KNIOMMU_F("IQEI")),
    reserved<0, 4, 28>(KNIOMMU_F("RSVD")),
    field<0, 32, 16>(KNIOMMU_F("ITESID")),
    field<0, 48, 16>(KNIOMMU_F("ICESID")));

inline constexpr auto kIvaReg = make_layout<1>(
    field<0, 0, 6>(KNIOMMU_F("AM")),
    field<0, 6, 1>(KNIOMMU_F("IH")),
    reserved<0, 7, 5>(KNIOMMU_F("RSVD")),
    field<0, 12, 52>(KNIOMMU_F("ADDR")));

inline constexpr auto kIotlbReg = make_layout<1>(
    reserved<0, 0, 32>(KNIOMMU_F("RSVD_LO")),
    field<0, 32, 16>(KNIOMMU_F("DID")),
    field<0, 48, 1>(KNIOMMU_F("DW")),
    field<0, 49, 1>(KNIOMMU_F("DR")),
    reserved<0, 50, 7>(KNIOMMU_F("RSVD50")),
    field<0, 57, 2>(KNIOMMU_F("IAIG")),
    reserved<0, 59, 1>(KNIOMMU_F("RSVD59")),
    field<0, 60, 2>(KNIOMMU_F("IIRG")),
    reserved<0, 62, 1>(KNIOMMU_F("RSVD62")),
    field<0, 63, 1>(KNIOMMU_F("IVT")));

// Fault recording register (128-bit): VT-d spec §10.4.14.
inline constexpr auto kFrcdReg = make_layout<2>(
    reserved<0, 0, 12>(KNIOMMU_F("RSVD_LO")),
    field<0, 12, 52>(KNIOMMU_F("FI")),
    field<1, 0, 16>(KNIOMMU_F("SID")),
    reserved<1, 16, 12>(KNIOMMU_F("RSVD_HI16")),
    field<1, 28, 1>(KNIOMMU_F("T2")),
    field<1, 29, 1>(KNIOMMU_F("PRIV")),
    field<1, 30, 1>(KNIOMMU_F("EXE")),
    field<1, 31, 1>(KNIOMMU_F("PP")),
    field<1, 32, 8>(KNIOMMU_F("FR")),
    field<1, 40, 20>(KNIOMMU_F("PV")),
    field<1, 60, 2>(KNIOMMU_F("AT")),
    field<1, 62, 1>(KNIOMMU_F("T")),
    field<1, 63, 1>(KNIOMMU_F("F")));

// clang-format on

}  // namespace kniommu::vtd
