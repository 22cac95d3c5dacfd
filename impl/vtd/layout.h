// Bit layouts of VT-d structures, described once and used by everyone: the driver's encoders, the
// emulated hardware's decoders and reserved-bit checks, and the Z3 lemmas in proofs/ (which iterate
// the very same descriptions with for_each_field).
//
// A layout is a Boost.Hana tuple of fields. A field is a name (a hana::string, so lookups by name
// are resolved and checked at compile time), the 64-bit word of the structure it lives in, its low
// bit, its width and its kind:
//   Value        — a field with a meaning (P, DID, ADDR, ...)
//   ReservedZero — must be zero; hardware faults / raises an error on a set bit
//   Ignored      — hardware ignores it; software may keep anything there
// Capability-dependent reservations (SNP without ECAP.SC, address bits at or above HAW, ...) are
// not a property of the layout; code derives them from a configuration (see sl_masks.h).
//
// Compile-time checks on every layout: fields fit their word, fields of one word do not overlap,
// names are unique, word indices are in range.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <boost/hana.hpp>

namespace kniommu::vtd::layout {

namespace hana = boost::hana;

enum class Kind { Value, ReservedZero, Ignored };
// "value", "reserved-zero", "ignored" (inline: the formats library is header-only).
constexpr const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Value:
      return "value";
    case Kind::ReservedZero:
      return "reserved-zero";
    case Kind::Ignored:
      return "ignored";
  }
  return "?";
}

constexpr std::uint64_t low_bits(unsigned width) {
  return width >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
}

template <class Name, unsigned Word, unsigned Lo, unsigned Width, Kind K>
struct Field {
  static_assert(Width >= 1 && Lo < 64 && Width <= 64 - Lo,
                "bit field does not fit its 64-bit word");
  using name_type = Name;
  static constexpr Name name{};
  static constexpr unsigned word = Word;
  static constexpr unsigned lo = Lo;
  static constexpr unsigned width = Width;
  static constexpr Kind kind = K;
  static constexpr std::uint64_t max = low_bits(Width);
  static constexpr std::uint64_t mask = max << Lo;

  // Field value extracted from its word (right-aligned).
  static constexpr std::uint64_t get(std::uint64_t w) { return (w & mask) >> Lo; }
  // Word with the field replaced; value bits beyond the width are dropped, never spilled into
  // neighbouring fields.
  static constexpr std::uint64_t set(std::uint64_t w, std::uint64_t v) {
    return (w & ~mask) | ((v & max) << Lo);
  }
  // True when `v` is representable in the field.
  static constexpr bool fits(std::uint64_t v) { return (v & ~max) == 0; }
  static constexpr const char* c_name() { return hana::to<const char*>(Name{}); }
};

// field<word, lo, width[, kind]>(BOOST_HANA_STRING("NAME"))
template <unsigned Word, unsigned Lo, unsigned Width, Kind K = Kind::Value, class Name>
constexpr auto field(Name) {
  return Field<Name, Word, Lo, Width, K>{};
}
template <unsigned Word, unsigned Lo, unsigned Width, class Name>
constexpr auto reserved(Name) {
  return Field<Name, Word, Lo, Width, Kind::ReservedZero>{};
}
template <unsigned Word, unsigned Lo, unsigned Width, class Name>
constexpr auto ignored(Name) {
  return Field<Name, Word, Lo, Width, Kind::Ignored>{};
}

// Run-time view of a field, for code that cannot be templated (printers, generic checkers).
struct FieldInfo {
  const char* name;
  unsigned word;
  unsigned lo;
  unsigned width;
  Kind kind;
  constexpr std::uint64_t mask() const { return low_bits(width) << lo; }
};

template <std::size_t N>
using Words = std::array<std::uint64_t, N>;

template <unsigned NWords, class... Fs>
struct Layout {
  static constexpr unsigned words = NWords;
  static constexpr std::size_t size = sizeof...(Fs);
  // The description itself: iterate with hana::for_each / for_each_field.
  static constexpr auto fields = hana::make_tuple(Fs{}...);

 private:
  static constexpr bool words_in_range() { return ((Fs::word < NWords) && ...); }
  static constexpr bool disjoint() {
    Words<NWords> acc{};
    bool ok = true;
    ((ok = ok && (acc[Fs::word] & Fs::mask) == 0, acc[Fs::word] |= Fs::mask), ...);
    return ok;
  }
  template <class F>
  static constexpr std::size_t count_named() {
    return (std::size_t{0} + ... +
            (std::is_same_v<typename F::name_type, typename Fs::name_type> ? 1 : 0));
  }
  static constexpr bool names_unique() { return ((count_named<Fs>() == 1) && ...); }
  template <Kind K>
  static constexpr std::uint64_t kind_mask(unsigned w) {
    return (std::uint64_t{0} | ... | (Fs::word == w && Fs::kind == K ? Fs::mask : 0));
  }

  static_assert(NWords >= 1, "a layout has at least one word");
  static_assert(words_in_range(), "bit field names a word beyond the layout");
  static_assert(disjoint(), "bit fields overlap");
  static_assert(names_unique(), "bit field names are not unique");

 public:
  // Bits of word `w` that must be zero (ReservedZero fields only).
  static constexpr std::uint64_t reserved_mask(unsigned w) {
    return kind_mask<Kind::ReservedZero>(w);
  }
  static constexpr std::uint64_t ignored_mask(unsigned w) { return kind_mask<Kind::Ignored>(w); }
  static constexpr std::uint64_t value_mask(unsigned w) { return kind_mask<Kind::Value>(w); }
  // Bits of word `w` covered by some field.
  static constexpr std::uint64_t described_mask(unsigned w) {
    return (std::uint64_t{0} | ... | (Fs::word == w ? Fs::mask : 0));
  }
  // Every bit of every word belongs to exactly one field (required of in-memory structures, so
  // that "reserved" is never an accident of omission).
  static constexpr bool fully_described() {
    for (unsigned w = 0; w < NWords; ++w) {
      if (described_mask(w) != ~std::uint64_t{0}) return false;
    }
    return true;
  }

  // The field called `name` (a hana::string); a compile error if there is none.
  template <class Name>
  static constexpr auto field(Name) {
    constexpr auto found = hana::find_if(fields, [](auto f) {
      return hana::bool_c<std::is_same_v<typename decltype(f)::name_type, Name>>;
    });
    static_assert(!decltype(hana::is_nothing(found))::value,
                  "no bit field of that name in this layout");
    return found.value();
  }

  // Mask of the field within its word.
  template <class Name>
  static constexpr std::uint64_t mask_of(Name n) {
    return decltype(field(n))::mask;
  }

  template <class Name>
  static constexpr std::uint64_t get(const Words<NWords>& v, Name n) {
    using F = decltype(field(n));
    return F::get(v[F::word]);
  }
  template <class Name>
  static constexpr void set(Words<NWords>& v, Name n, std::uint64_t value) {
    using F = decltype(field(n));
    v[F::word] = F::set(v[F::word], value);
  }

  // Builds the words from name/value pairs: encode(hana::make_pair(NAME, value), ...).
  template <class... Pairs>
  static constexpr Words<NWords> encode(Pairs... pairs) {
    Words<NWords> v{};
    (set(v, hana::first(pairs), hana::second(pairs)), ...);
    return v;
  }

  // True when no ReservedZero field has a set bit.
  static constexpr bool reserved_clear(const Words<NWords>& v) {
    for (unsigned w = 0; w < NWords; ++w) {
      if ((v[w] & reserved_mask(w)) != 0) return false;
    }
    return true;
  }

  static constexpr std::array<FieldInfo, sizeof...(Fs)> infos() {
    return {FieldInfo{Fs::c_name(), Fs::word, Fs::lo, Fs::width, Fs::kind}...};
  }
};

template <unsigned NWords, class... Fs>
constexpr Layout<NWords, Fs...> make_layout(Fs...) {
  return {};
}

// Compile-time iteration: f receives each Field (a type with static members) in declaration order.
template <unsigned NWords, class... Fs, class Fn>
constexpr void for_each_field(Layout<NWords, Fs...>, Fn&& f) {
  hana::for_each(Layout<NWords, Fs...>::fields, f);
}

// Run-time iteration: f(const FieldInfo&), in declaration order.
template <unsigned NWords, class... Fs, class Fn>
constexpr void for_each_field_info(Layout<NWords, Fs...> l, Fn&& f) {
  for (const FieldInfo& info : l.infos()) f(info);
}

// Typed wrapper base: a structure is its words plus named accessors generated from its layout.
// Derived classes add readable accessors with KNIOMMU_VTD_ACCESSOR.
template <class L>
struct Entry {
  using layout_type = L;
  static constexpr unsigned kWords = L::words;
  Words<L::words> w{};

  template <class Name>
  constexpr std::uint64_t get(Name n) const {
    return L::get(w, n);
  }
  template <class Name>
  constexpr void set(Name n, std::uint64_t v) {
    L::set(w, n, v);
  }
  constexpr bool reserved_clear() const { return L::reserved_clear(w); }
  friend constexpr bool operator==(const Entry&, const Entry&) = default;
};

// A 64-bit register: one word, built from / read back as its raw value.
template <class Self, class L>
struct Register : Entry<L> {
  static_assert(L::words == 1, "a register layout has one word");
  static constexpr Self from(std::uint64_t raw) {
    Self r;
    r.w[0] = raw;
    return r;
  }
  constexpr std::uint64_t raw() const { return this->w[0]; }
};

// The one way code outside a layout names a field's bits: mask_of(kGcmdReg, KNIOMMU_F("TE")).
// Mask of the field `name` of layout `l` within its word.
template <class L, class Name>
constexpr std::uint64_t mask_of(L, Name n) {
  return decltype(L::field(n))::mask;
}
// Value of the field `name` of layout `l` in the word `w` (right-aligned).
template <class L, class Name>
constexpr std::uint64_t field_of(L, Name n, std::uint64_t w) {
  return decltype(L::field(n))::get(w);
}
// `w` with the field replaced by `v`.
template <class L, class Name>
constexpr std::uint64_t with_field(L, Name n, std::uint64_t w, std::uint64_t v) {
  return decltype(L::field(n))::set(w, v);
}

}  // namespace kniommu::vtd::layout

// Generates `x()` and `set_x(v)` (returning *this for chaining) for the layout field "NAME".
#define KNIOMMU_VTD_ACCESSOR(Self, method, NAME)                                  \
  constexpr std::uint64_t method() const { return get(BOOST_HANA_STRING(NAME)); } \
  constexpr Self& set_##method(std::uint64_t v) {                                 \
    set(BOOST_HANA_STRING(NAME), v);                                              \
    return *this;                                                                 \
  }
