---- MODULE Good ----
VARIABLE x
Init == x = 0
Next == x' = x + 1
Positive == x >= 0
====
