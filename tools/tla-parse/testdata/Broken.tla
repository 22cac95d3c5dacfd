---- MODULE Broken ----
\* A deliberately malformed module: the parse check must reject it.
VARIABLE x
Init == x = 0
Next == x' = x + + 1 /\
====
