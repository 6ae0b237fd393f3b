# tests/bench/plot.gp: efficiency and CPU per 1000 requests against P.
#
#   gnuplot -e "datafile='build/bench/sweep.tsv'; outfile='build/bench/efficiency.png'" \
#       tests/bench/plot.gp
#
# datafile is bench.sh's sweep.tsv (a header line, then one row per P;
# columns: 3 P, 2 N, 4 latency_ms, 7 efficiency, 9 cpu_per_1000); nmin is
# the smallest N of the sweep, for the title.

if (!exists("datafile")) datafile = 'build/bench/sweep.tsv'
if (!exists("outfile")) outfile = 'build/bench/efficiency.png'
if (!exists("nmin")) nmin = 400

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 900,560 enhanced font "sans,10"
} else {
	set terminal png size 900,560
}
set output outfile

set datafile separator "\t"
set title sprintf("splitgpt against the mock, latency 50 ms, N = max(%d, 8P)\n", nmin) . "efficiency = ceil(N/P) x latency / wall;  CPU = user+sys of splitgpt and its workers"
set xlabel "P (worker processes)"
set logscale x 2
set xrange [0.7:370]
set xtics (1, 2, 4, 8, 16, 32, 64, 128, 256)
set ylabel "efficiency (ideal / wall)"
set yrange [0:1.1]
set ytics nomirror
set y2label "CPU seconds per 1000 requests"
set y2range [0:*]
set y2tics
set grid xtics ytics
set key bottom left box opaque

plot datafile every ::1 using 3:7 axes x1y1 with linespoints lw 2 pt 7 \
	title "efficiency", \
     '' every ::1 using 3:7:(sprintf("%.2f", $7)) axes x1y1 with labels \
	offset 0,1 notitle, \
     '' every ::1 using 3:9 axes x1y2 with linespoints lw 2 pt 5 dt 2 \
	title "CPU s / 1000 requests (right axis)", \
     '' every ::1 using 3:9:(sprintf("%.2f", $9)) axes x1y2 with labels \
	offset 0,-1 tc rgb "gray40" notitle
