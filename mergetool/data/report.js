window.addEventListener('error',function(e){document.body.dataset.jsErrors=(document.body.dataset.jsErrors||'')+e.message+';'});
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var rows=Array.from(t.tBodies[0].rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=b.cells[i].dataset.v||b.cells[i].textContent;
      var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y,'vi');return asc?c:-c;});
    rows.forEach(function(r){t.tBodies[0].appendChild(r)});});});});
// wide charts open at their latest years (the right end); earlier years are a scroll away
document.querySelectorAll('.scroll').forEach(function(s){s.scrollLeft=s.scrollWidth;});
document.body.dataset.ready='1';
