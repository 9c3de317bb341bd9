/* empty css              */import{b as r}from"./common-DbPCUMAf.js";import{s as m}from"./session-page-CgkPGGYN.js";import"./codemirror-C09XvHNW.js";m(r("app"),{embed:!0});
