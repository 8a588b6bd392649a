// fmt's compiled part (the non-template functions and the instantiations fmt's headers declare
// `extern`), built into the programs themselves. Debian ships fmt only as a shared library, and
// libfmt.so brings libstdc++.so with it: loading and binding the two cost about 1 ms of CPU at each
// start of gctool, which runs twice for every container it starts (the sealed re-exec). With this
// file and -static-libstdc++ the programs load only libc (CMakeLists.txt, gctool_self_contained).
// Compiled alone: format-inl.h must not meet the other sources' fmt includes in one unit.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto thousands_sep_impl<wchar_t>(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<buffer_context<char>>, locale_ref);
template FMT_API void buffer<char>::append(const char*, const char*);

}  // namespace detail
FMT_END_NAMESPACE
